"""DPO runs through the API, executed in this process on CPU with the tiny causal LM on the
grounded task: queued -> running -> done, a registered policy whose artifacts load back, a
loss that falls, and a held-out margin of chosen over rejected that rises above the base
model's; LoRA adapters saved as adapters (or merged); a conversational dataset through the chat
template; a tokenizer without EOS; a policy trained further from a registered policy; cancel; a
stalled run trained again by its restarted job."""

from datetime import timedelta
from pathlib import Path

import pytest
import torch
from django.conf import settings
from django.utils import timezone
from transformers import AutoModelForCausalLM, AutoTokenizer

from annotation.models import BackgroundJob, JobStatus
from tests.policies.dpo_fixtures import (
    FAST,
    LEARNS,
    RUNS,
    base_root,  # noqa: F401 (a fixture)
    grounded_dataset,
    mean,
    start_dpo,
)
from tests.support.tiny_causal_lm import save_tiny_causal_lm
from training.models import PolicyVersion, RunStatus, TrainingRun
from training.services.policy_loading import load_policy
from training.services.runs import cancel_training_run, execute_training_run
from training.tasks import train_reward_model

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("base_root")]


def test_a_dpo_run_trains_a_policy_that_prefers_the_grounded_answer(lead, sprint, api_client_for):
    client, grounded = api_client_for(lead), grounded_dataset(lead, sprint, count=400)
    response = start_dpo(client, grounded, **LEARNS)
    assert response.status_code == 202, response.json()
    run_id = response.json()["id"]
    detail = client.get(f"{RUNS}/{run_id}").json()
    assert detail["status"] == "queued" and detail["kind"] == "dpo"
    assert detail["name"] == "policy-sprint-a"

    seen = []

    def watch(event):
        seen.append(client.get(f"{RUNS}/{run_id}").json()["status"])

    run = execute_training_run(run_id, on_event=watch)
    assert run.status == RunStatus.DONE, run.error
    assert set(seen) == {"running"}
    detail = client.get(f"{RUNS}/{run_id}").json()
    assert detail["status"] == "done" and detail["progress"] == 1.0
    assert detail["current_step"] == detail["total_steps"] > 0
    metrics = detail["metrics"]
    assert [e["epoch"] for e in metrics["eval"]] == [1, 2, 3, 4, 5]
    assert metrics["device"] == "cpu" and metrics["pairs_per_s"] > 0
    assert {"trl", "peft", "torch"} <= set(detail["library_versions"])
    test_pairs = detail["config"]["test_pairs"]
    assert detail["config"]["test_source"] == "holdout" and test_pairs > 0

    losses = [point["loss"] for point in metrics["train_loss"]]
    quarter = len(losses) // 4
    assert mean(losses[-quarter:]) < mean(losses[:quarter]), losses
    base, final = metrics["base_eval"], metrics["final_eval"]
    assert final["margin"] > base["margin"] + 1.0, (base, metrics["eval"])
    assert final["accuracy"] > base["accuracy"], (base, metrics["eval"])
    assert final == metrics["eval"][-1] and base["pairs"] == final["pairs"] == test_pairs

    policy = PolicyVersion.objects.get(run_id=run_id)
    assert detail["policy_version"] == policy.pk and detail["model_version"] is None
    assert (policy.name, policy.version, policy.stage) == ("policy-sprint-a", 1, "candidate")
    assert policy.adapter is False and policy.base_model == "tiny"
    assert policy.rendering["form"] == "standard" and policy.rendering["chat_template"] is None
    folder = Path(settings.DATA_DIR) / detail["artifacts_dir"]
    for name in ("model.safetensors", "tokenizer.json", "policy_config.json", "metrics.json",
                 "concord_run.json"):  # fmt: skip
        assert (folder / name).is_file(), name
    model, tokenizer = load_policy(policy)
    ids = tokenizer("see [1] kb-refunds .", return_tensors="pt").input_ids
    assert model(ids).logits.shape[-1] == len(tokenizer)


def test_a_lora_run_saves_an_adapter_that_loads_merged(lead, sprint, api_client_for):
    client, grounded = api_client_for(lead), grounded_dataset(lead, sprint)
    options = {**FAST, "lora": True, "lora_r": 4, "lora_alpha": 8}
    run = execute_training_run(start_dpo(client, grounded, **options).json()["id"])
    assert run.status == RunStatus.DONE, run.error
    folder = Path(settings.DATA_DIR) / run.artifacts_dir
    assert (folder / "adapter_config.json").is_file()
    assert (folder / "adapter_model.safetensors").is_file()
    assert not (folder / "model.safetensors").exists()
    policy = run.policy_version
    assert policy.adapter is True
    model, tokenizer = load_policy(policy)
    assert type(model).__name__ == "LlamaForCausalLM", "the adapter is merged over its base"
    root = Path(settings.CONCORD_BASE_MODEL_ROOTS[0])
    base = AutoModelForCausalLM.from_pretrained(root / "tiny").eval()
    ids = tokenizer("what about refunds ? see [1] kb-refunds .", return_tensors="pt").input_ids
    with torch.no_grad():
        assert not torch.allclose(model(ids).logits, base(ids).logits), "the adapter changed it"

    merged = execute_training_run(
        start_dpo(client, grounded, **options, merge_adapter=True).json()["id"]
    )
    assert merged.status == RunStatus.DONE, merged.error
    folder = Path(settings.DATA_DIR) / merged.artifacts_dir
    assert (folder / "model.safetensors").is_file()
    assert not (folder / "adapter_config.json").exists()
    assert merged.policy_version.adapter is False and merged.policy_version.version == 2


def test_a_conversational_dataset_trains_through_the_chat_template(lead, sprint, api_client_for):
    dataset = grounded_dataset(lead, sprint, form="conversational")
    client = api_client_for(lead)
    run = execute_training_run(start_dpo(client, dataset, "tiny-chat", **FAST).json()["id"])
    assert run.status == RunStatus.DONE, run.error
    rendering = run.policy_version.rendering
    assert rendering["form"] == "conversational" and "message['role']" in rendering["chat_template"]

    plain = execute_training_run(start_dpo(client, dataset, "tiny", **FAST).json()["id"])
    assert plain.status == RunStatus.FAILED
    assert "no chat template" in plain.error and plain.error.startswith("The dataset is")
    assert not PolicyVersion.objects.filter(run=plain).exists()


def test_pairs_whose_prompt_fills_max_length_are_counted_and_a_run_of_only_those_fails(
    lead, sprint, api_client_for
):
    """TRL leaves out a pair whose prompt alone reaches max_length: the run says how many, and
    a run left with none fails with the reason instead of training on nothing."""
    dataset = grounded_dataset(lead, sprint)  # prompts of about 30 tokens with their documents
    client = api_client_for(lead)
    fits = execute_training_run(start_dpo(client, dataset, **FAST).json()["id"])
    assert fits.status == RunStatus.DONE, fits.error
    assert fits.metrics["pairs_dropped_too_long"] == {"train": 0, "test": 0}

    cut = execute_training_run(start_dpo(client, dataset, **{**FAST, "max_length": 8}).json()["id"])
    assert cut.status == RunStatus.FAILED
    assert "max_length (8)" in cut.error and "raise max_length" in cut.error
    assert not PolicyVersion.objects.filter(run=cut).exists()


def test_a_policy_trains_further_from_a_registered_policy(lead, sprint, api_client_for):
    client, grounded = api_client_for(lead), grounded_dataset(lead, sprint)
    first = execute_training_run(start_dpo(client, grounded, **FAST).json()["id"])
    assert first.status == RunStatus.DONE, first.error
    reference = f"policy:{first.policy_version.pk}"
    response = start_dpo(client, grounded, reference, **FAST, name="grounded")
    assert response.status_code == 202, response.json()
    second = execute_training_run(response.json()["id"])
    assert second.status == RunStatus.DONE, second.error
    policy = second.policy_version
    assert (policy.name, policy.base_model, policy.version) == ("grounded", reference, 1)
    # Its base is the first policy: the base evaluation is the first run's final one.
    assert second.metrics["base_eval"]["margin"] == pytest.approx(
        first.metrics["final_eval"]["margin"], abs=1e-3
    )


def test_a_running_dpo_run_is_cancelled_and_nothing_is_registered(
    lead, sprint, api_client_for, settings
):
    settings.CONCORD_TRAINING_POLL_SECONDS = 0  # the cancel check reads at every step
    client, grounded = api_client_for(lead), grounded_dataset(lead, sprint)
    run_id = start_dpo(client, grounded, **{**FAST, "epochs": 50}).json()["id"]
    run = TrainingRun.objects.get(pk=run_id)

    def cancel_at_step_two(event):
        if event.step == 2 and event.loss is not None:
            cancel_training_run(run, actor=lead)

    run = execute_training_run(run_id, on_event=cancel_at_step_two)
    assert run.status == RunStatus.CANCELLED and run.error == "Cancelled on request."
    assert 2 <= run.current_step < run.total_steps
    assert not PolicyVersion.objects.exists()
    assert not (Path(settings.DATA_DIR) / "training" / "runs" / f"run-{run_id}").exists()


def without_eos(folder: Path, sep: str | None) -> None:
    """The tokenizer in ``folder`` without an EOS token (with ``sep`` as its SEP token)."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.eos_token = None
    tokenizer.sep_token = sep
    tokenizer.save_pretrained(folder)


def test_a_tokenizer_without_eos_ends_responses_with_its_sep_or_the_run_fails(
    lead, sprint, api_client_for
):
    root = Path(settings.CONCORD_BASE_MODEL_ROOTS[0])
    save_tiny_causal_lm(root / "sep-only")
    without_eos(root / "sep-only", "</s>")
    save_tiny_causal_lm(root / "no-end")
    without_eos(root / "no-end", None)
    client, grounded = api_client_for(lead), grounded_dataset(lead, sprint)

    run = execute_training_run(start_dpo(client, grounded, "sep-only", **FAST).json()["id"])
    assert run.status == RunStatus.DONE, run.error
    saved = AutoTokenizer.from_pretrained(Path(settings.DATA_DIR) / run.artifacts_dir)
    assert saved.eos_token == saved.sep_token == "</s>" and saved.pad_token == "<pad>"

    failed = execute_training_run(start_dpo(client, grounded, "no-end", **FAST).json()["id"])
    assert failed.status == RunStatus.FAILED
    assert failed.error.startswith("The base model's tokenizer has no end-of-sequence token")
    assert not PolicyVersion.objects.filter(run=failed).exists()


def test_a_stalled_dpo_run_is_trained_again_by_the_restarted_job(
    lead, sprint, api_client_for, django_capture_on_commit_callbacks
):
    """The same job, task and sweep as reward runs: a dpo run whose worker died (its heartbeat
    old) is taken again by the task when the sweep queues its job, and trained from scratch."""
    client, grounded = api_client_for(lead), grounded_dataset(lead, sprint)
    with django_capture_on_commit_callbacks(execute=False):
        run_id = start_dpo(client, grounded, **FAST).json()["id"]
    job = BackgroundJob.objects.get(kind="training", key=str(run_id))
    old = timezone.now() - timedelta(hours=1)
    TrainingRun.objects.filter(pk=run_id).update(
        status=RunStatus.RUNNING, heartbeat_at=old, started_at=old, current_step=2
    )
    BackgroundJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, attempts=1)

    assert train_reward_model(run_id, job_id=job.pk) == RunStatus.DONE
    run = TrainingRun.objects.get(pk=run_id)
    assert run.current_step == run.total_steps and run.started_at > old
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert PolicyVersion.objects.filter(run=run).count() == 1
