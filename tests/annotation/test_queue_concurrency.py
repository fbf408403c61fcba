"""Sixteen annotators drain a k=3 sprint at once through the API, on PostgreSQL: every item ends
with exactly k live judgments, no pair repeats, no submit is lost, and retries store nothing.
And one annotator's simultaneous requests lease one item, not several."""

import threading
from collections import Counter

import pytest
from django.db import connections
from rest_framework.test import APIClient

from annotation.models import Assignment, Judgment
from tests.annotation.labeling_fixtures import add_items, good_answers, join

ANNOTATORS = 16
ITEMS = 120
K = 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_annotators_fill_every_item_exactly_k_times(sprint, make_user):
    from rest_framework.authtoken.models import Token

    sprint.overlap_k = K
    sprint.save()
    add_items(sprint, ITEMS)
    users = join(sprint, *(make_user(f"p{i}") for i in range(ANNOTATORS)))
    tokens = [Token.objects.create(user=u).key for u in users]
    created: list[int] = []
    replays: list[tuple[int, int]] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(ANNOTATORS)

    def annotate(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[index]}")
        try:
            start.wait()
            while True:
                response = client.get(f"/api/v1/sprints/{sprint.pk}/next")
                if response.status_code == 204:
                    return
                if response.status_code != 200:
                    failures.append(f"next: {response.status_code} {response.content[:200]}")
                    return
                body = response.json()
                key = f"{index}-{body['assignment']}"
                payload = {
                    "assignment": body["assignment"],
                    "answers": good_answers(),
                    "seconds": 2,
                }
                first = client.post(
                    "/api/v1/judgments", payload, format="json", HTTP_IDEMPOTENCY_KEY=key
                )
                if first.status_code != 201:
                    failures.append(f"submit: {first.status_code} {first.content[:200]}")
                    return
                with lock:
                    created.append(first.json()["id"])
                if body["assignment"] % 4 == 0:  # a client that retries after a timeout
                    retry = client.post(
                        "/api/v1/judgments", payload, format="json", HTTP_IDEMPOTENCY_KEY=key
                    )
                    with lock:
                        replays.append((retry.status_code, retry.json()["id"] - first.json()["id"]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=annotate, args=(i,)) for i in range(ANNOTATORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures[:5]
    live = Judgment.objects.filter(sprint=sprint, superseded_by__isnull=True)
    per_item = Counter(live.values_list("item_id", flat=True))
    assert len(per_item) == ITEMS
    assert set(per_item.values()) == {min(K, ANNOTATORS)}
    pairs = Counter(live.values_list("item_id", "annotator_id"))
    assert max(pairs.values()) == 1
    assert sorted(created) == sorted(live.values_list("id", flat=True))  # no submit lost
    assert replays and all(status == 200 and delta == 0 for status, delta in replays)
    assert Judgment.objects.count() == ITEMS * K


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_annotators_simultaneous_requests_share_one_lease(sprint, annotator):
    """A double click, or a page and a script at once: eight requests of one annotator at the
    same instant get the same assignment, and only one item is leased."""
    from rest_framework.authtoken.models import Token

    add_items(sprint, 20)
    token = Token.objects.create(user=annotator).key
    requests = 8
    start = threading.Barrier(requests)
    answers: list[tuple[int, int]] = []
    lock = threading.Lock()

    def ask() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            start.wait()
            response = client.get(f"/api/v1/sprints/{sprint.pk}/next")
            with lock:
                answers.append((response.status_code, response.json()["assignment"]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == requests
    assert {status for status, _ in answers} == {200}
    assert len({assignment for _, assignment in answers}) == 1
    assert Assignment.objects.filter(annotator=annotator).count() == 1
