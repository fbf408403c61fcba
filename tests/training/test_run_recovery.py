"""Issue 18, "every background job recoverable": a training run whose worker died is trained
again from scratch (same seed) by the next worker once the job sweep sees its heartbeat stop
(``CONCORD_TRAINING_STALL_SECONDS``), once; after a second loss it fails with the reason. A run
whose message was lost (the broker was down) is published again by the next sweep.

The rules are checked with the sweep called directly; the whole story with real worker
processes, the first killed with SIGKILL in the middle of training."""

import time
from datetime import timedelta

import pytest
from celery import current_app
from django.db import connection
from django.utils import timezone

from annotation.models import BackgroundJob, JobStatus
from annotation.services.job_sweep import sweep_background_jobs
from tests.support.celery_worker import CeleryWorkerProcess, purge_queues
from tests.support.dead_broker import dead_broker
from tests.training.conftest import wait_for
from training.models import ModelVersion, RunStatus, TrainingRun
from training.services.run_heartbeat import RunHeartbeat
from training.services.runs import execute_training_run, fail_abandoned_runs, start_training_run
from training.tasks import train_reward_model

FAST = {"epochs": 1, "batch_size": 8, "max_length": 64, "device": "cpu"}


def training_job(run: TrainingRun) -> BackgroundJob:
    return BackgroundJob.objects.get(kind="training", key=str(run.pk))


def stall(run: TrainingRun, job: BackgroundJob, attempts: int) -> None:
    """As a worker killed after start ``attempts`` leaves them: running, the heartbeat old."""
    old = timezone.now() - timedelta(hours=1)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=old, started_at=old, current_step=3, progress=0.5
    )
    BackgroundJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, attempts=attempts, heartbeat_at=old, started_at=old
    )


@pytest.mark.django_db
def test_a_stalled_run_is_queued_again_once_then_failed_with_the_reason(
    settings, lead, dataset, django_capture_on_commit_callbacks
):
    settings.CONCORD_TRAINING_STALL_SECONDS = 120
    with django_capture_on_commit_callbacks(execute=False):
        run = start_training_run(dataset, actor=lead, options=FAST)
    job = training_job(run)
    stall(run, job, attempts=1)

    with dead_broker():  # only what the sweep decides is checked here
        report = sweep_background_jobs()
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and report.failed == [] and report.broker_down
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING, "the job sweep owns it: not failed by the run check"

    stall(run, job, attempts=2)
    report = sweep_background_jobs()
    assert report.failed == [job.pk]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "stopped reporting for 120 s after 2 start(s)" in run.error


@pytest.mark.django_db
def test_the_restarted_job_trains_the_stalled_run_from_scratch_with_the_same_seed(
    lead, dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        run = start_training_run(dataset, actor=lead, options={**FAST, "seed": 7})
    job = training_job(run)
    stall(run, job, attempts=1)
    BackgroundJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)  # the sweep's doing

    assert train_reward_model(run.pk, job_id=job.pk) == RunStatus.DONE
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and run.config["seed"] == 7
    assert run.current_step == run.total_steps and run.progress == 1.0
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert ModelVersion.objects.filter(run=run).count() == 1


@pytest.mark.django_db
def test_a_duplicate_message_while_a_worker_trains_does_nothing(lead, dataset):
    run = TrainingRun.objects.create(
        dataset=dataset, model_name="m", base_model="b", status=RunStatus.RUNNING,
        heartbeat_at=timezone.now(), created_by=lead,
    )  # fmt: skip
    job = BackgroundJob.objects.create(
        kind="training", key=str(run.pk), args=[run.pk], status=JobStatus.RUNNING, attempts=1,
        enqueued_at=timezone.now(), heartbeat_at=timezone.now(),
    )  # fmt: skip
    assert train_reward_model(run.pk, job_id=job.pk) is None
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1), "still the first worker's"
    # Even without the job row (the command's in-process run), a live run is not taken.
    assert execute_training_run(run.pk) is None


@pytest.mark.django_db
def test_a_run_without_a_job_is_failed_after_the_stall_time(settings, lead, dataset):
    settings.CONCORD_TRAINING_STALL_SECONDS = 120
    old = timezone.now() - timedelta(seconds=300)
    alone = TrainingRun.objects.create(
        dataset=dataset, model_name="m", base_model="b", status=RunStatus.RUNNING,
        heartbeat_at=old, created_by=lead,
    )  # fmt: skip
    assert fail_abandoned_runs() == 1
    alone.refresh_from_db()
    assert alone.status == RunStatus.FAILED and "for 120 s" in alone.error


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_beats_while_no_progress_event_comes(lead, dataset):
    run = TrainingRun.objects.create(
        dataset=dataset, model_name="m", base_model="b", status=RunStatus.RUNNING,
        heartbeat_at=timezone.now() - timedelta(hours=1), created_by=lead,
    )  # fmt: skip
    heartbeat = RunHeartbeat(run.pk, "training", interval=0.05).start()
    try:
        seen = wait_for(
            lambda: TrainingRun.objects.values_list("heartbeat_at", flat=True).get(pk=run.pk),
            lambda at: at > timezone.now() - timedelta(seconds=5),
            timeout=30,
        )
        assert len(seen) >= 2
        # Inside the training loop the progress writes beat instead: the timer pauses.
        event = type("Event", (), {"step": 1, "total_steps": 10})()
        heartbeat.watching(None)(event)
        paused_at = timezone.now() - timedelta(hours=1)
        TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=paused_at)
        time.sleep(0.5)
        assert TrainingRun.objects.get(pk=run.pk).heartbeat_at == paused_at
    finally:
        heartbeat.stop()


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_beats_between_epochs_while_the_test_split_is_evaluated(lead, dataset):
    """Each epoch but the last ends with an evaluation of the test split that sends no event
    until it is done (minutes for a large model): the timer beats then, or the sweep would take
    a working run for a dead one and train it a second time beside the first."""
    run = TrainingRun.objects.create(
        dataset=dataset, model_name="m", base_model="b", status=RunStatus.RUNNING,
        heartbeat_at=timezone.now(), created_by=lead,
    )  # fmt: skip
    heartbeat = RunHeartbeat(run.pk, "training", interval=0.05).start()

    def step(number: int) -> None:
        event = type("Event", (), {"step": number, "total_steps": 6, "epoch": 1, "eval": None})
        heartbeat.watching(None, epochs=3)(event())

    def beats() -> bool:
        old = timezone.now() - timedelta(hours=1)
        TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=old)
        time.sleep(0.5)
        return TrainingRun.objects.get(pk=run.pk).heartbeat_at > old

    try:
        step(1)
        assert not beats(), "inside an epoch the progress writes beat"
        step(2)  # the last step of epoch 1 of 3: the evaluation runs now
        assert beats()
        step(3)
        assert not beats()
    finally:
        heartbeat.stop()


@pytest.mark.django_db
def test_a_run_whose_message_was_lost_is_published_by_the_next_sweep(
    lead, dataset, django_capture_on_commit_callbacks
):
    with dead_broker(), django_capture_on_commit_callbacks(execute=True):
        run = start_training_run(dataset, actor=lead, options=FAST)
    job = training_job(run)
    assert job.published_at is None and "workers are unreachable" in job.last_error
    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    try:
        report = sweep_background_jobs()
    finally:
        current_app.conf.task_always_eager = previous
    assert report.republished == [job.pk]
    run.refresh_from_db()
    assert run.status == RunStatus.DONE, run.error


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_training_is_replaced_and_the_run_finishes(
    settings, lead, dataset, tmp_path
):
    settings.CONCORD_TRAINING_STALL_SECONDS = 3
    purge_queues()
    options = {"epochs": 2, "batch_size": 2, "max_length": 64, "device": "cpu", "seed": 5}
    env = {"CONCORD_TRAINING_STALL_SECONDS": "3"}
    database = str(connection.settings_dict["NAME"])
    first = CeleryWorkerProcess(
        database_name=database, log_path=tmp_path / "first.log", extra_env=env
    ).start()
    try:
        run = start_training_run(dataset, actor=lead, options=options)
        wait_for(
            lambda: TrainingRun.objects.values_list("status", "current_step").get(pk=run.pk),
            lambda value: value[0] != RunStatus.QUEUED and value[1] >= 1,
            timeout=240,
        )
        first.kill()
    finally:
        first.stop()
    killed_at = TrainingRun.objects.get(pk=run.pk)
    assert killed_at.status == RunStatus.RUNNING, (killed_at.error, first.log_tail())
    assert killed_at.current_step < killed_at.total_steps, "killed in the middle of training"

    # The beat's sweep, once the heartbeat is older than the stall time.
    wait_for(
        lambda: sweep_background_jobs().republished,
        lambda republished: republished == [training_job(run).pk],
        timeout=60,
    )
    second = CeleryWorkerProcess(
        database_name=database, log_path=tmp_path / "second.log", extra_env=env
    ).start()
    try:
        wait_for(
            lambda: TrainingRun.objects.values_list("status", flat=True).get(pk=run.pk),
            lambda status: status not in (RunStatus.QUEUED, RunStatus.RUNNING),
            timeout=600,
        )
    finally:
        second.stop()
    run.refresh_from_db()
    assert run.status == RunStatus.DONE, (run.error, second.log_tail())
    assert run.config["seed"] == 5 and run.current_step == run.total_steps
    job = training_job(run)
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert ModelVersion.objects.filter(run=run).count() == 1
