"""The embedded default end to end: what ``make run`` starts for a newcomer, SQLite and the
filesystem Celery broker with a real ``celery -A concord worker --pool=solo``, carries a judgment
to its consensus label and then builds an export of it, every job through the broker.

Runs only on the embedded default (marker ``embedded``): CI's embedded pass runs it, the
PostgreSQL and Redis pass leaves it out (.ci/run). The other worker tests run on whichever
broker is configured; in CI that is Redis, so without this test nothing in CI would prove that
the filesystem broker and SQLite carry a job from the web process to a worker."""

import hashlib
import time

import orjson
import pytest
from django.conf import settings
from django.db import connection

from annotation.models import BackgroundJob, Judgment
from exports.models import DatasetVersion
from reviews.models import ConsensusLabel
from tests.annotation.labeling_fixtures import add_items, good_answers

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, worker, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        assert worker.alive, f"the worker died waiting for {what}:\n{worker.log_tail()}"
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{worker.log_tail()}")


def test_a_judgment_is_reviewed_and_exported_by_a_worker_on_the_embedded_default(
    celery_worker_process, sprint, annotator, lead, api_client_for
):
    worker = celery_worker_process
    assert connection.vendor == "sqlite"
    assert settings.CELERY_BROKER_URL.startswith("filesystem://")
    banner = worker.log_since_start()  # the worker prints its broker and pool as it starts
    assert "transport:   filesystem://" in banner and "(solo)" in banner, banner
    add_items(sprint, 1)

    labeler = api_client_for(annotator)
    served = labeler.get(f"/api/v1/sprints/{sprint.pk}/next").json()
    submitted = labeler.post(
        "/api/v1/judgments",
        {"assignment": served["assignment"], "answers": good_answers(("b", "a")), "seconds": 7},
        format="json",
        HTTP_IDEMPOTENCY_KEY="embedded-1",
    )
    assert submitted.status_code == 201, submitted.content
    judgment = Judgment.objects.get()
    item_id = served["item"]["id"]

    label = wait_for(
        lambda: ConsensusLabel.objects.filter(item_id=item_id, judgment_ids=[judgment.pk]).first(),
        worker,
        "the worker's consensus label",
    )
    assert label.ranking == ["b", "a"]
    review = BackgroundJob.objects.get(kind="review")
    assert (review.status, review.attempts) == ("done", 1), worker.log_tail()

    client = api_client_for(lead)
    started = client.post(
        "/api/v1/exports", {"sprints": [sprint.pk], "format": "jsonl"}, format="json"
    )
    assert started.status_code == 202, started.content
    pk = started.json()["id"]
    wait_for(
        lambda: DatasetVersion.objects.filter(pk=pk, status="done").exists(),
        worker,
        "the export",
    )
    detail = client.get(f"/api/v1/exports/{pk}").json()
    body = b"".join(client.get(f"/api/v1/exports/{pk}/download").streaming_content)
    assert hashlib.sha256(body).hexdigest() == detail["sha256"]
    rows = [orjson.loads(line) for line in body.splitlines()]
    # The annotator ranked b over a; add_items gave b the text "answer 1 to 0".
    assert [(r["item_id"], r["chosen"], r["rejected"]) for r in rows] == [
        (item_id, "answer 1 to 0", "answer 0 to 0")
    ]
    assert set(BackgroundJob.objects.values_list("kind", "status")) == {
        ("review", "done"),
        ("export", "done"),
    }
