"""Judgments submitted through the API reach a real Celery worker process through the
configured broker (Redis and PostgreSQL in CI), which opens the dispute and writes the label."""

import time

import pytest

from reviews.models import ConsensusLabel, Dispute
from tests.annotation.labeling_fixtures import add_items, join

pytestmark = [pytest.mark.worker]


def wait_for(predicate, worker, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        assert worker.alive, worker.log_tail()
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{worker.log_tail()}")


def submit(client, sprint, ranking, key):
    served = client.get(f"/api/v1/sprints/{sprint.pk}/next")
    assert served.status_code == 200, served.content
    body = served.json()
    answers = {
        "preference": {"ranking": ranking, "strength": 2},
        "helpfulness": {key: 3 for key in ranking},
    }
    response = client.post(
        "/api/v1/judgments",
        {"assignment": body["assignment"], "answers": answers, "seconds": 9},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 201, response.content
    return body["item"]["id"]


def test_a_split_submitted_through_the_api_opens_a_dispute_in_the_worker(
    celery_worker_process, sprint, make_user, api_client_for
):
    sprint.overlap_k = 2
    sprint.save()
    add_items(sprint, 1)
    ada, bo = join(sprint, make_user("ada"), make_user("bo"))

    item_id = submit(api_client_for(ada), sprint, ["a", "b"], "ada-1")
    # One judgment of two: the worker labels the item but opens nothing yet.
    wait_for(
        lambda: ConsensusLabel.objects.filter(item_id=item_id).exists(),
        celery_worker_process,
        "the first label",
    )
    assert not Dispute.objects.exists()

    assert submit(api_client_for(bo), sprint, ["b", "a"], "bo-1") == item_id
    dispute = wait_for(
        lambda: Dispute.objects.filter(item_id=item_id, status="open").first(),
        celery_worker_process,
        "the dispute",
    )
    assert dispute.reasons == ["split", "low_agreement"]
    label = wait_for(
        lambda: (
            ConsensusLabel.objects.filter(item_id=item_id).exclude(judgment_ids=[]).first()
            if len(ConsensusLabel.objects.get(item_id=item_id).judgment_ids) == 2
            else None
        ),
        celery_worker_process,
        "the label of both judgments",
    )
    assert label.method == "dawid_skene"
