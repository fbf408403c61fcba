"""A DPO run started through the API and trained by a real Celery worker process (the same task
and job as reward runs), on CPU with the tiny causal LM: queued -> running -> done, its policy
registered with the artifacts the worker published."""

from pathlib import Path

import pytest
from django.conf import settings

from tests.policies.dpo_fixtures import (
    FAST,
    RUNS,
    base_root,  # noqa: F401 (a fixture)
    grounded_dataset,
    start_dpo,
)
from tests.training.conftest import wait_for
from training.models import PolicyVersion, TrainingRun
from training.services.policy_loading import load_policy

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("base_root"),
]


def test_a_worker_trains_a_dpo_run_started_through_the_api(
    celery_worker_process, lead, sprint, api_client_for
):
    # The worker reads the base model roots from its environment, as a deployed one does.
    celery_worker_process.stop()
    roots = ",".join(settings.CONCORD_BASE_MODEL_ROOTS)
    celery_worker_process.extra_env["CONCORD_BASE_MODEL_ROOTS"] = roots
    celery_worker_process.start()
    dataset = grounded_dataset(lead, sprint)
    client = api_client_for(lead)
    response = start_dpo(client, dataset, **{**FAST, "epochs": 2})
    assert response.status_code == 202, response.json()
    run_id = response.json()["id"]

    def state():
        return client.get(f"{RUNS}/{run_id}").json()["status"]

    statuses = wait_for(state, lambda status: status not in ("queued", "running"))
    run = TrainingRun.objects.get(pk=run_id)
    assert statuses == ["queued", "running", "done"], (run.error, celery_worker_process.log_tail())
    detail = client.get(f"{RUNS}/{run_id}").json()
    assert detail["kind"] == "dpo" and detail["current_step"] == detail["total_steps"] > 0
    assert [e["epoch"] for e in detail["metrics"]["eval"]] == [1, 2]
    assert detail["metrics"]["base_eval"]["pairs"] == detail["config"]["test_pairs"] > 0
    policy = PolicyVersion.objects.get(run_id=run_id)
    assert detail["policy_version"] == policy.pk and policy.label == "policy-sprint-a@v1"
    assert (Path(settings.DATA_DIR) / run.artifacts_dir / "model.safetensors").is_file()
    model, tokenizer = load_policy(policy)
    assert model.config.vocab_size == len(tokenizer)
