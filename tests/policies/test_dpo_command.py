"""``manage.py train_policy``: a real DPO run in this process (the progress bar on stderr),
recorded and registered like any other; bad input is a clear CommandError with nothing stored."""

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.policies.dpo_fixtures import (
    base_root,  # noqa: F401 (a fixture)
    grounded_dataset,
)
from tests.support.builders import export_of
from training.models import PolicyVersion, RunStatus, TrainingRun

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("base_root")]


def test_the_command_trains_and_registers_a_policy(lead, sprint):
    dataset = grounded_dataset(lead, sprint)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "train_policy", str(dataset.pk), "--base-model=tiny", "--as=lead", "--name=cli-policy",
        "--epochs=2", "--batch-size=8", "--learning-rate=0.01", "--max-length=128",
        "--device=cpu", "--lora", "--lora-r=4", "--beta=0.2",
        stdout=out, stderr=err,
    )  # fmt: skip
    run = TrainingRun.objects.get()
    assert run.status == RunStatus.DONE and run.created_by == lead and run.kind == "dpo"
    assert run.config["lora"] is True and run.config["lora_r"] == 4 and run.config["beta"] == 0.2
    policy = PolicyVersion.objects.get(run=run)
    assert (policy.label, policy.adapter) == ("cli-policy@v1", True)
    text = out.getvalue()
    assert text.startswith(f"Training run {run.pk}: cli-policy from dataset {dataset.pk}")
    assert f"policy version id {policy.pk}, training run {run.pk}" in text
    base, final = run.metrics["base_eval"], run.metrics["final_eval"]
    assert f"held-out margin {base['margin']:.3f} -> {final['margin']:.3f}" in text
    assert f"accuracy {base['accuracy']:.3f} -> {final['accuracy']:.3f}" in text
    assert "epoch 1: held-out margin" in text and "epoch 2: held-out margin" in text
    steps = run.total_steps
    assert f"{steps}/{steps}" in err.getvalue(), "the progress bar counts the steps"
    assert (Path(settings.DATA_DIR) / run.artifacts_dir / "adapter_model.safetensors").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["999999", "--base-model=tiny", "--as=lead"], "no dataset version 999999 led by lead"),
        (["{dataset}", "--base-model=tiny", "--as=nobody"], "no user 'nobody'"),
        (["{dataset}", "--base-model=tiny", "--as=ann1"], "led by ann1"),
        (["{dataset}", "--base-model=/etc", "--as=lead"], "base_model: Not a registered"),
        (["{dataset}", "--base-model=tiny", "--as=lead", "--beta=0"], "beta: Must be above 0"),
        (["{dataset}", "--base-model=tiny", "--as=lead", "--merge-adapter"], "merge_adapter"),
    ],
)
def test_bad_input_is_a_command_error_and_nothing_is_stored(lead, annotator, sprint, args, message):
    dataset = export_of(sprint, lead)
    args = [arg.format(dataset=dataset.pk) for arg in args]
    with pytest.raises(CommandError, match=message):
        call_command("train_policy", *args, "--no-progress")
    assert not TrainingRun.objects.exists()


def test_a_failed_run_is_recorded_and_reported(lead, sprint):
    dataset = grounded_dataset(lead, sprint, form="conversational")
    with pytest.raises(CommandError, match="training run failed: The dataset is conversational"):
        call_command(
            "train_policy", str(dataset.pk), "--base-model=tiny", "--as=lead", "--no-progress"
        )
    assert TrainingRun.objects.get().status == RunStatus.FAILED
    assert not PolicyVersion.objects.exists()
