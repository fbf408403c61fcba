"""An evaluation whose worker died: the job sweep starts it again once (the next start claims
the stalled evaluation and does it from scratch, with the same texts since generation is
seeded), and after a second loss fails it with the reason; a live one is never taken twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import BackgroundJob, JobStatus
from annotation.services.job_sweep import sweep_background_jobs
from tests.policies.evaluation_fixtures import EVALUATIONS
from training.models import PolicyEvaluation
from training.services.evaluations import EVALUATION_JOB, execute_evaluation

pytestmark = pytest.mark.django_db


@pytest.fixture
def started(grounded, policies, lead, rubric, api_client_for) -> PolicyEvaluation:
    candidate, _baseline = policies
    answer = api_client_for(lead).post(
        EVALUATIONS,
        {"candidate": candidate.pk, "rubric": rubric.pk, "dataset": grounded[1].pk,
         "sampling": {"max_new_tokens": 6}},
        format="json",
    )  # fmt: skip
    return PolicyEvaluation.objects.get(pk=answer.json()["id"])


def worker_died(evaluation, *, attempts: int, ago: timedelta) -> BackgroundJob:
    """The evaluation and its job as a worker that was killed ``ago`` leaves them."""
    then = timezone.now() - ago
    PolicyEvaluation.objects.filter(pk=evaluation.pk).update(
        status="running", started_at=then, heartbeat_at=then, progress=0.3
    )
    job = BackgroundJob.objects.get(kind=EVALUATION_JOB, key=str(evaluation.pk))
    BackgroundJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, attempts=attempts, heartbeat_at=then
    )
    return job


def test_a_live_evaluation_is_not_taken_again_and_a_stalled_one_is_done_again(started, settings):
    worker_died(started, attempts=1, ago=timedelta(seconds=5))
    assert execute_evaluation(started.pk) is None, "its worker is still beating"
    worker_died(
        started, attempts=1, ago=timedelta(seconds=settings.CONCORD_TRAINING_STALL_SECONDS + 5)
    )
    again = execute_evaluation(started.pk)
    assert again.status == "done" and again.sprint is not None and again.progress == 1.0


def test_after_its_second_lost_worker_the_sweep_fails_it_with_the_reason(started, settings):
    job = worker_died(
        started, attempts=2, ago=timedelta(seconds=settings.CONCORD_TRAINING_STALL_SECONDS + 5)
    )
    report = sweep_background_jobs()
    assert job.pk in report.failed
    failed = PolicyEvaluation.objects.get(pk=started.pk)
    assert failed.status == "failed" and "stopped reporting" in failed.error
    assert failed.sprint is None and failed.finished_at is not None
    assert execute_evaluation(started.pk) is None, "a failed evaluation is not run again"
