"""``manage.py train_reward_model``: a real run in this process (with the progress bar on
stderr), recorded and registered like any other; bad input is a clear CommandError."""

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from training.models import ModelVersion, RunStatus, TrainingRun

pytestmark = pytest.mark.django_db


def test_the_command_trains_and_registers(lead, dataset):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "train_reward_model",
        str(dataset.pk),
        "--epochs=1",
        "--batch-size=8",
        "--max-length=48",
        "--device=cpu",
        "--seed=2",
        "--name=cli-rm",
        "--user=lead",
        stdout=out,
        stderr=err,
    )
    run = TrainingRun.objects.get()
    assert run.status == RunStatus.DONE and run.created_by == lead
    assert run.config["seed"] == 2 and run.config["max_length"] == 48
    model = ModelVersion.objects.get(run=run)
    assert (model.name, model.version, model.stage) == ("cli-rm", 1, "candidate")
    assert "Done: cli-rm v1 (candidate)" in out.getvalue()
    assert out.getvalue().startswith(f"Training run {run.pk}: "), "the run id, when it starts"
    accuracy = f"{run.metrics['final_accuracy']:.3f}"
    assert f"model version id {model.pk}, training run {run.pk}" in out.getvalue()
    assert f"held-out accuracy {accuracy}" in out.getvalue()
    assert model.rendering["form"] == "standard" and "chat_template" in model.rendering
    assert "epoch 1: held-out accuracy" in out.getvalue()
    steps = run.total_steps
    assert f"{steps}/{steps}" in err.getvalue(), "the progress bar counts the steps"
    assert (Path(settings.DATA_DIR) / run.artifacts_dir / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["999999"], "no dataset version 999999"),
        (["{dataset}", "--epochs=0"], "epochs: Must be an integer from 1 to 100"),
        (["{dataset}", "--device=tpu"], "device: Must be cpu, cuda"),
        (["{dataset}", "--user=nobody"], "no user 'nobody'"),
    ],
)
def test_bad_input_is_a_command_error_and_nothing_is_stored(dataset, args, message):
    args = [arg.format(dataset=dataset.pk) for arg in args]
    with pytest.raises(CommandError, match=message):
        call_command("train_reward_model", *args, "--no-progress")
    assert not TrainingRun.objects.exists()


def test_an_unusable_dataset_is_refused(sprint, make_dataset):
    running = make_dataset([sprint], status="running")
    with pytest.raises(CommandError, match="only a finished"):
        call_command("train_reward_model", str(running.pk), "--no-progress")


def test_a_failed_run_is_recorded_and_reported(dataset, settings, tmp_path):
    # A directory under a root passes the base model check but holds no model.
    (tmp_path / "empty").mkdir()
    settings.CONCORD_BASE_MODEL_ROOTS = [str(tmp_path)]
    with pytest.raises(CommandError, match=r"training run failed: .*/empty"):
        call_command("train_reward_model", str(dataset.pk), "--base-model=empty", "--no-progress")
    run = TrainingRun.objects.get()
    assert run.status == RunStatus.FAILED and "cannot be loaded as a reward model" in run.error
    assert not ModelVersion.objects.exists()
