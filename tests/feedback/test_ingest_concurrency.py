"""Twenty backends send overlapping batches at once through the API, on PostgreSQL: every event
is stored exactly once (0 lost, 0 doubled), each one is reported accepted by exactly one
request and a duplicate by every other, and its production preferences exist once."""

import random
import threading
from collections import Counter

import pytest
from django.db import connections
from rest_framework.test import APIClient

from feedback.models import FeedbackEvent, ProductionPreference
from feedback.services.ingest_tokens import issue_token
from tests.feedback.ingest_fixtures import event
from tests.support.builders import feedback_source

THREADS = 20
EVENTS = 400
BATCHES_PER_THREAD = 4
BATCH = 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_from_twenty_threads_lose_and_double_nothing(make_user):
    root = make_user("fb-root", is_superuser=True, is_staff=True)
    source = feedback_source("support-bot", leads=[root])
    key = issue_token(root, "prod", [source]).key
    pool = [event(f"ev-{i:04d}") for i in range(EVENTS)]
    sent: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    duplicates: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def backend(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        draw = random.Random(index)
        try:
            start.wait()
            for _ in range(BATCHES_PER_THREAD):
                batch = draw.sample(pool, BATCH)
                response = client.post(
                    "/api/v1/feedback/events", {"events": batch}, format="json"
                )
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.content[:300]!r}")
                    return
                body = response.json()
                with lock:
                    sent.update(e["event_id"] for e in batch)
                    accepted.update(e["event_id"] for e in body["accepted"])
                    duplicates.update(e["event_id"] for e in body["duplicates"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=backend, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    stored = Counter(FeedbackEvent.objects.values_list("event_id", flat=True))
    assert set(stored) == set(sent)  # 0 lost
    assert max(stored.values()) == 1  # 0 doubled
    assert all(accepted[key] == 1 for key in sent)
    assert all(duplicates[key] == sent[key] - 1 for key in sent)
    assert ProductionPreference.objects.count() == 2 * len(sent)
    print(f"\n{THREADS} threads, {sum(sent.values())} events sent, {len(stored)} stored once")
