"""Real training runs through the API and a real Celery worker process on CPU, with the
packaged all-MiniLM-L6-v2: a run goes queued -> running -> done and is registered, its
artifacts load back, a promoted model scores through the API; a running run is cancelled; a
run on a base model outside the configured roots fails with the one message. Nothing is
registered for either."""

import json
from pathlib import Path

import pytest
from django.conf import settings

from tests.training.conftest import synthetic_pairs, wait_for
from training.models import ModelVersion, RunStatus, TrainingRun
from training.services.trainer import RewardScorer

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RUNS = "/api/v1/training-runs"
RUNNING = ("queued", "running")


def run_state(client, run_id):
    body = client.get(f"{RUNS}/{run_id}").json()
    return body["status"]


def test_a_run_trains_registers_promotes_and_scores(
    celery_worker_process, lead, dataset, api_client_for
):
    client = api_client_for(lead)
    response = client.post(
        RUNS,
        {"dataset": dataset.pk, "epochs": 2, "batch_size": 8, "max_length": 64, "device": "cpu"},
        format="json",
    )
    assert response.status_code == 202, response.json()
    run_id = response.json()["id"]
    assert response.json()["status"] == "queued"

    statuses = wait_for(
        lambda: run_state(client, run_id),
        lambda status: status not in RUNNING,
    )
    run = TrainingRun.objects.get(pk=run_id)
    assert statuses == ["queued", "running", "done"], (run.error, celery_worker_process.log_tail())

    detail = client.get(f"{RUNS}/{run_id}").json()
    assert detail["progress"] == 1.0 and detail["current_step"] == detail["total_steps"] > 0
    assert [e["epoch"] for e in detail["metrics"]["eval"]] == [1, 2]
    assert detail["metrics"]["train_loss"], "the loss curve is kept"
    assert detail["metrics"]["final_accuracy"] >= 0.8, "well above chance on the easy pairs"
    assert detail["device"] == "cpu" and "torch" in detail["library_versions"]
    assert detail["config"]["seed"] == 0 and detail["config"]["test_source"] == "dataset"
    assert detail["config"]["train_pairs"] == 18 and detail["config"]["test_pairs"] == 6

    artifacts = Path(settings.DATA_DIR) / detail["artifacts_dir"]
    for name in ("model.safetensors", "config.json", "metrics.json", "training_config.json"):
        assert (artifacts / name).is_file(), name
    provenance = json.loads((artifacts / "concord_run.json").read_text())
    assert provenance["run"] == run_id and provenance["created_by"] == "lead"
    assert provenance["dataset"]["id"] == dataset.pk
    assert provenance["dataset"]["sprints"] == ["sprint-a"]
    assert provenance["config"]["epochs"] == 2 and provenance["config"]["max_length"] == 64
    scorer = RewardScorer.load(artifacts, device="cpu")
    chosen, rejected = scorer.score(
        "What is the capital of France?",
        ["Paris is the capital of France.", "France. sirap eht fo latipac si"],
    )
    assert chosen > rejected

    model = ModelVersion.objects.get(run_id=run_id)
    assert detail["model_version"] == model.pk
    assert (model.name, model.version, model.stage) == ("reward-sprint-a", 1, "candidate")
    assert model.metrics["final_accuracy"] == detail["metrics"]["final_accuracy"]

    promoted = client.post(f"/api/v1/models/{model.pk}/promote", {"stage": "production"})
    assert promoted.status_code == 200 and promoted.json()["stage"] == "production"
    scored = client.post(
        f"/api/v1/models/{model.pk}/score",
        {
            "prompt": [{"role": "user", "content": "What is the largest planet?"}],
            "responses": ["Jupiter is the largest planet.", "planet. largest eht si retipuJ"],
        },
        format="json",
    )
    assert scored.status_code == 200, scored.json()
    scores = scored.json()["scores"]
    assert len(scores) == 2 and scores[0] > scores[1]


def test_a_running_run_is_cancelled_and_nothing_is_registered(
    celery_worker_process, lead, sprint, make_dataset, api_client_for
):
    dataset = make_dataset([sprint], synthetic_pairs(48))
    client = api_client_for(lead)
    run_id = client.post(
        RUNS,
        {"dataset": dataset.pk, "epochs": 100, "batch_size": 4, "max_length": 32, "device": "cpu"},
        format="json",
    ).json()["id"]

    def step():
        body = client.get(f"{RUNS}/{run_id}").json()
        return body["status"], body["current_step"] > 0

    # Until it has taken a step (or ended, which the assertions below would report).
    wait_for(step, lambda state: state == ("running", True) or state[0] not in RUNNING)
    cancel = client.post(f"{RUNS}/{run_id}/cancel")
    assert cancel.status_code == 202 and cancel.json()["cancel_requested"] is True

    wait_for(lambda: run_state(client, run_id), lambda status: status != "running")
    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == RunStatus.CANCELLED, (run.error, celery_worker_process.log_tail())
    assert run.current_step < run.total_steps
    assert run.error == "Cancelled on request." and run.finished_at is not None
    assert not ModelVersion.objects.exists()
    assert not (Path(settings.DATA_DIR) / "training" / "runs" / f"run-{run_id}").exists()


def test_a_base_model_outside_the_roots_fails_on_the_worker_with_the_one_message(
    celery_worker_process, lead, dataset, api_client_for
):
    """A run stored before base models were checked (the API now answers 400) reaches a real
    worker, which refuses it before loading, with one message that names no directory."""
    from training.services.base_models import REFUSED
    from training.tasks import train_reward_model

    client = api_client_for(lead)
    missing = "/nonexistent/models/no-such-encoder"
    refused = client.post(RUNS, {"dataset": dataset.pk, "base_model": missing}, format="json")
    assert refused.status_code == 400 and not TrainingRun.objects.exists()
    run = TrainingRun.objects.create(
        dataset=dataset, model_name="reward-sprint-a", base_model=missing, created_by=lead
    )
    train_reward_model.delay(run.pk)

    wait_for(lambda: run_state(client, run.pk), lambda status: status not in RUNNING)
    detail = client.get(f"{RUNS}/{run.pk}").json()
    assert detail["status"] == "failed", celery_worker_process.log_tail()
    assert detail["error"] == f"base_model: {REFUSED}"
    assert detail["finished_at"] is not None and detail["model_version"] is None
    assert not ModelVersion.objects.exists()
