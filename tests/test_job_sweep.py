"""Every background job is recoverable, one way (annotation.services.jobs and job_sweep).

The rules, with the tasks run in-process (eager): a job the broker refused is published again
at the next sweep; one no worker started is published again after CONCORD_JOB_REQUEUE_SECONDS,
then after twice that; a running job whose heartbeat went stale is started again, or failed
after its kind's starts (a training run is trained again once, then failed with the reason:
tests/training/test_run_recovery.py); a
finished job ignores a duplicate message. Then the whole story with real processes: writes made
while the broker was down are picked up and finished by a real worker started afterwards, once
the sweep has run through the broker, as the beat would run it."""

from datetime import timedelta

import pytest
from celery import current_app
from django.db import connection
from django.utils import timezone

from annotation.models import BackgroundJob, JobStatus
from annotation.services import jobs
from annotation.services.job_sweep import sweep_background_jobs
from annotation.tasks import sweep_background_jobs as sweep_task
from exports.models import DatasetVersion
from exports.services.requests import DEFAULT_FILTERS
from tests.support.celery_worker import CeleryWorkerProcess, purge_queues
from tests.support.dead_broker import background_writes, dead_broker
from tests.training.conftest import dataset, make_dataset, wait_for  # noqa: F401 (fixtures)
from training.models import RunStatus, TrainingRun

LONG_AGO = timedelta(hours=2)


@pytest.fixture
def eager():
    before = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = before


def job(kind: str, key, **fields) -> BackgroundJob:
    now = timezone.now()
    values = {"enqueued_at": now - LONG_AGO, "published_at": now - LONG_AGO, "publishes": 1}
    return BackgroundJob.objects.create(kind=kind, key=str(key), args=[key], **{**values, **fields})


def status(row: BackgroundJob) -> str:
    return BackgroundJob.objects.values_list("status", flat=True).get(pk=row.pk)


def test_the_beat_runs_the_sweep_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-background-jobs"]
    assert entry["task"] == sweep_task.name and entry["schedule"] == 60.0


def test_every_kind_of_job_is_registered():
    assert {kind.name for kind in jobs.job_kinds()} >= {"review", "export", "training", "selection"}


@pytest.mark.django_db
def test_a_refused_job_is_published_at_the_next_sweep_and_run(eager, sprint, lead):
    export = DatasetVersion.objects.create(
        kind="preference", format="jsonl", filters=dict(DEFAULT_FILTERS), created_by=lead
    )
    export.sprints.set([sprint])
    refused = job("export", export.pk, published_at=None, enqueued_at=timezone.now())

    report = sweep_background_jobs()

    assert report.republished == [refused.pk] and not report.broker_down
    refused.refresh_from_db()
    assert refused.status == JobStatus.DONE and refused.attempts == 1 and refused.publishes == 2
    assert DatasetVersion.objects.get(pk=export.pk).status == "done"


@pytest.mark.django_db
def test_a_job_nobody_started_is_published_again_with_a_growing_wait(settings, sprint):
    settings.CONCORD_JOB_REQUEUE_SECONDS = 120
    now = timezone.now()
    first = job("review", 1, published_at=now - timedelta(seconds=150), publishes=1)
    second = job("review", 2, published_at=now - timedelta(seconds=150), publishes=2)
    fresh = job("review", 3, published_at=now - timedelta(seconds=30), publishes=1)
    with dead_broker():  # nothing is run: only what the sweep picks is checked here
        report = sweep_background_jobs(now)
    assert report.broker_down and report.republished == []
    first.refresh_from_db()
    assert first.published_at is None and "workers are unreachable" in first.last_error
    second.refresh_from_db()
    fresh.refresh_from_db()
    assert second.published_at is not None and second.publishes == 2, "waits 240 s, not 120"
    assert fresh.published_at is not None and fresh.publishes == 1


@pytest.mark.django_db
def test_a_review_whose_worker_died_is_started_again(eager, sprint):
    from tests.annotation.labeling_fixtures import add_items

    (item,) = add_items(sprint, 1)
    stalled = job("review", item.pk, status=JobStatus.RUNNING, attempts=1,
                  heartbeat_at=timezone.now() - LONG_AGO)  # fmt: skip
    alive = job("review", item.pk, status=JobStatus.RUNNING, attempts=1,
                heartbeat_at=timezone.now())  # fmt: skip

    assert sweep_background_jobs().republished == [stalled.pk]
    stalled.refresh_from_db()
    assert stalled.status == JobStatus.DONE and stalled.attempts == 2
    assert status(alive) == JobStatus.RUNNING


@pytest.mark.django_db
def test_a_training_run_whose_worker_died_twice_is_failed_with_the_reason(dataset):  # noqa: F811
    run = TrainingRun.objects.create(
        dataset=dataset, model_name="m", base_model="base", status=RunStatus.RUNNING,
        heartbeat_at=timezone.now(),
    )  # fmt: skip
    lost = job("training", run.pk, status=JobStatus.RUNNING, attempts=2,
               heartbeat_at=timezone.now() - LONG_AGO)  # fmt: skip

    report = sweep_background_jobs()

    assert report.failed == [lost.pk] and report.republished == []
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "stopped reporting" in run.error
    assert status(lost) == JobStatus.FAILED


@pytest.mark.django_db
def test_a_finished_job_ignores_a_duplicate_message_and_a_failing_one_is_retried(sprint):
    done = job("review", 1, status=JobStatus.DONE)
    assert jobs.run_job(done.pk, lambda: pytest.fail("a done job must not run again")) is None

    failing = job("review", 2)

    def broken():
        raise RuntimeError("database hiccup")

    for attempt in range(1, 6):
        with pytest.raises(RuntimeError):
            jobs.run_job(failing.pk, broken)
        failing.refresh_from_db()
        expected = JobStatus.QUEUED if attempt < 5 else JobStatus.FAILED
        assert (failing.status, failing.attempts) == (expected, attempt)
    assert "database hiccup" in failing.last_error


@pytest.mark.django_db
def test_old_finished_jobs_are_deleted(settings):
    settings.CONCORD_JOB_KEEP_DAYS = 7
    old = job("review", 1, status=JobStatus.DONE, finished_at=timezone.now() - timedelta(days=8))
    recent = job("review", 2, status=JobStatus.DONE, finished_at=timezone.now())
    assert sweep_background_jobs().deleted == 1
    assert not BackgroundJob.objects.filter(pk=old.pk).exists()
    assert BackgroundJob.objects.filter(pk=recent.pk).exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_started_after_the_broker_was_down_finishes_every_job(
    sprint,
    annotator,
    lead,
    dataset,  # noqa: F811
    api_client_for,
    tmp_path,
):
    with dead_broker():
        made = background_writes(sprint, annotator, lead, dataset, api_client_for,
                                 run_options={"epochs": 1, "batch_size": 8, "max_length": 64,
                                              "device": "cpu"})  # fmt: skip
    answered = [made.judgment, made.flag, made.export, made.run]
    assert [r.status_code for r in answered] == [201, 201, 202, 202]
    lost = BackgroundJob.objects.filter(published_at=None, status=JobStatus.QUEUED)
    assert sorted(lost.values_list("kind", flat=True)) == ["export", "review", "review", "training"]

    purge_queues()
    worker = CeleryWorkerProcess(
        database_name=str(connection.settings_dict["NAME"]), log_path=tmp_path / "worker.log"
    ).start()
    try:
        sweep_task.delay()  # what the beat sends every minute
        wait_for(
            lambda: sorted(BackgroundJob.objects.values_list("status", flat=True)),
            lambda statuses: set(statuses) <= {JobStatus.DONE, JobStatus.FAILED},
            timeout=300,
        )
        assert set(BackgroundJob.objects.values_list("status", flat=True)) == {JobStatus.DONE}, (
            list(BackgroundJob.objects.values("kind", "status", "last_error")),
            worker.log_tail(),
        )
    finally:
        worker.stop()
    assert DatasetVersion.objects.get(pk=made.export.json()["id"]).status == "done"
    run = TrainingRun.objects.get(pk=made.run.json()["id"])
    assert run.status == RunStatus.DONE, run.error
    assert api_client_for(lead).get(f"/api/v1/training-runs/{run.pk}").json()["warning"] is None
