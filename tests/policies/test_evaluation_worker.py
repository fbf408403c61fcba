"""One evaluation through the API and a real Celery worker process (queues default and gpu) on
the CPU with the tiny causal LM: queued -> running -> done, with its blind sprint and the
generation cost recorded, its job done."""

import pytest

from annotation.models import BackgroundJob, Item, JobStatus
from tests.policies.evaluation_fixtures import (
    EVALUATIONS,
    TEST_ITEMS,
    grounded_export,
    grounded_sprint_items,
    two_policies,
)
from tests.training.conftest import wait_for
from training.services.evaluations import EVALUATION_JOB

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_generates_the_evaluation_and_makes_its_sprint(
    celery_worker_process, sprint, lead, annotator, rubric, api_client_for, tmp_path
):
    dataset = grounded_export(sprint, lead, grounded_sprint_items(sprint))
    candidate, _baseline = two_policies(dataset, lead, tmp_path)
    client = api_client_for(lead)
    answer = client.post(
        EVALUATIONS,
        {"candidate": candidate.pk, "rubric": rubric.pk, "dataset": dataset.pk,
         "sampling": {"max_new_tokens": 8}, "seed": 3},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 202, answer.json()
    evaluation_id = answer.json()["id"]
    assert answer.json()["status"] == "queued" and "warning" not in answer.json()

    def state():
        return client.get(f"{EVALUATIONS}/{evaluation_id}").json()["status"]

    statuses = wait_for(state, lambda status: status not in ("queued", "running"))
    detail = client.get(f"{EVALUATIONS}/{evaluation_id}").json()
    assert statuses[-1] == "done", (detail["error"], celery_worker_process.log_tail())
    assert set(statuses) <= {"queued", "running", "done"}
    assert detail["generation"]["candidate"]["prompts"] == TEST_ITEMS
    assert (
        Item.objects.filter(sprint_id=detail["sprint"]).count() == detail["generation"]["compared"]
    )
    job = BackgroundJob.objects.get(kind=EVALUATION_JOB, key=str(evaluation_id))
    assert job.status == JobStatus.DONE and job.attempts == 1


def test_a_lead_cancels_an_evaluation_a_worker_is_generating(
    celery_worker_process, sprint, lead, annotator, rubric, api_client_for, tmp_path, settings
):
    """Cancelled while the worker process generates (one prompt a batch, hundreds of them): the
    worker stops at its next progress write, the evaluation stays cancelled with no sprint,
    and its background job ends done (nothing to retry)."""
    settings.CONCORD_GENERATION_BATCH_SIZE = 1  # recorded in the sampling the worker uses
    dataset = grounded_export(sprint, lead, grounded_sprint_items(sprint))
    candidate, _baseline = two_policies(dataset, lead, tmp_path)
    items = list(Item.objects.filter(sprint=sprint))
    prompts = [{"prompt": f"{items[n % len(items)].prompt} ({n})"} for n in range(400)]
    client = api_client_for(lead)
    answer = client.post(
        EVALUATIONS,
        {"candidate": candidate.pk, "rubric": rubric.pk, "prompts": prompts,
         "sampling": {"max_new_tokens": 32}, "seed": 3},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 202, answer.json()
    url = f"{EVALUATIONS}/{answer.json()['id']}"
    wait_for(lambda: client.get(url).json()["progress"], lambda progress: progress > 0)
    cancelled = client.post(f"{url}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    job = BackgroundJob.objects.get(kind=EVALUATION_JOB, key=str(answer.json()["id"]))

    def job_status():
        job.refresh_from_db()
        return job.status

    wait_for(job_status, lambda status: status not in (JobStatus.QUEUED, JobStatus.RUNNING))
    detail = client.get(url).json()
    assert detail["status"] == "cancelled" and detail["error"] == ""
    assert detail["sprint"] is None and detail["generation"] == {}
    assert detail["progress"] < 0.45, "stopped during the candidate's side"
    assert job.status == JobStatus.DONE, celery_worker_process.log_tail()
    assert "stopped: it was cancelled" in celery_worker_process.log_tail()
