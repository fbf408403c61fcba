"""Executing a run without a model to train: a run that was cancelled before a worker took it
is never started, any failure ends the run failed with its reason, and the progress writer and
the cancel check touch the database as little as they promise, never losing a cancel."""

from pathlib import Path

import pytest
from django.conf import settings

from training.models import ModelVersion, RunStatus, TrainingRun
from training.services.runs import (
    CancelCheck,
    ProgressWriter,
    cancel_training_run,
    execute_training_run,
    run_output_dir,
    start_training_run,
)
from training.services.trainer import ProgressEvent

pytestmark = pytest.mark.django_db


def test_a_run_cancelled_before_it_started_is_never_trained(lead, dataset):
    run = start_training_run(dataset, actor=lead, enqueue=False)
    cancel_training_run(run, actor=lead)
    assert execute_training_run(run.pk) is None
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.started_at is None


def test_a_second_delivery_does_nothing(lead, dataset):
    run = start_training_run(dataset, actor=lead, enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    assert execute_training_run(run.pk) is None
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.started_at is None


def test_an_unreadable_dataset_fails_the_run_with_the_reason(lead, dataset):
    (Path(settings.DATA_DIR) / dataset.file_path).write_text('{"prompt": "broken\n')
    run = start_training_run(dataset, actor=lead, enqueue=False)
    run = execute_training_run(run.pk)
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert run.error.startswith("JSONDecodeError: ")
    assert not ModelVersion.objects.exists()
    assert not run_output_dir(run.pk)[0].exists()


def test_a_missing_dataset_file_fails_the_run(lead, dataset):
    run = start_training_run(dataset, actor=lead, enqueue=False)
    (Path(settings.DATA_DIR) / dataset.file_path).unlink()
    run = execute_training_run(run.pk)
    assert run.status == RunStatus.FAILED
    assert run.error == f"The file of dataset {dataset.pk} is missing: {dataset.file_path}"


def event(step, total=10, loss=0.5, evaluation=None):
    return ProgressEvent(step=step, total_steps=total, epoch=1, loss=loss, eval=evaluation)


def test_progress_is_written_at_most_once_per_interval_and_never_a_cancel(lead, dataset):
    run = start_training_run(dataset, actor=lead, enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    seen = []
    writer = ProgressWriter(run.pk, interval=3600, on_event=seen.append)

    writer(event(1))
    run.refresh_from_db()
    assert (run.current_step, run.total_steps, run.progress) == (1, 10, 0.1)

    cancel_training_run(run, actor=lead)
    writer(event(2))
    run.refresh_from_db()
    assert run.current_step == 1, "within the interval nothing is written"

    writer(event(5, loss=None, evaluation={"epoch": 1, "accuracy": 0.75, "loss": 0.6}))
    run.refresh_from_db()
    assert run.current_step == 5, "an evaluation is always written"
    assert run.metrics["eval"] == [{"epoch": 1, "accuracy": 0.75, "loss": 0.6}]
    assert [p["step"] for p in run.metrics["train_loss"]] == [1, 2]
    assert run.cancel_requested, "a progress write never clears a cancel request"

    writer(event(10))
    run.refresh_from_db()
    assert run.progress == 1.0 and run.current_step == 10, "the last step is always written"
    assert len(seen) == 4


def test_progress_is_not_written_to_a_run_that_is_not_running(lead, dataset):
    run = start_training_run(dataset, actor=lead, enqueue=False)
    ProgressWriter(run.pk, interval=0)(event(3))
    run.refresh_from_db()
    assert run.current_step == 0 and run.status == RunStatus.QUEUED


def test_the_cancel_check_reads_at_most_once_per_interval(lead, dataset):
    run = start_training_run(dataset, actor=lead, enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    slow, eager = CancelCheck(run.pk, interval=3600), CancelCheck(run.pk, interval=0)
    assert slow() is False and eager() is False
    cancel_training_run(run, actor=lead)
    assert slow() is False, "not read again within the interval"
    assert eager() is True and eager() is True
