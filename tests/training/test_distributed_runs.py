"""A training run in two processes (``CONCORD_TRAINING_PROCESSES=2``, gloo on the CPU) records
its world size on the row, in its metrics, its provenance and the API; a rank that crashes
fails the run with that rank's error, the other rank stopped by torchrun (nothing hangs)."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from tests.training.trainer_fixtures import save_tiny_decoder
from training.models import ModelVersion, RunStatus
from training.services import distributed
from training.services.runs import execute_training_run, run_output_dir, start_training_run


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> str:
    return save_tiny_decoder(tmp_path_factory.mktemp("tiny") / "decoder")


@pytest.fixture
def two_processes(settings, tiny_base):
    settings.CONCORD_TRAINING_PROCESSES = 2
    settings.CONCORD_BASE_MODEL_ROOTS = [str(Path(tiny_base).parent)]


RUN_OPTIONS = {"epochs": 1, "batch_size": 4, "max_length": 64, "device": "cpu"}


@pytest.mark.django_db
def test_a_run_in_two_processes_records_its_world_size(
    two_processes, tiny_base, lead, dataset, api_client_for
):
    run = start_training_run(
        dataset, actor=lead, base_model=tiny_base, options=RUN_OPTIONS, enqueue=False
    )
    events = []
    run = execute_training_run(run.pk, on_event=events.append)
    assert run.status == RunStatus.DONE, run.error
    assert run.world_size == 2
    assert run.metrics["world_size"] == 2 and run.config["world_size"] == 2
    assert run.current_step == run.total_steps == len([e for e in events if e.eval is None]) > 0
    assert ModelVersion.objects.filter(run=run).exists()
    provenance = json.loads(
        (Path(settings.DATA_DIR) / run.artifacts_dir / "concord_run.json").read_text()
    )
    assert provenance["config"]["world_size"] == 2
    detail = api_client_for(lead).get(f"/api/v1/training-runs/{run.pk}").json()
    assert detail["world_size"] == 2


@pytest.mark.django_db
def test_a_crashed_rank_fails_the_run_with_its_error(
    two_processes, tiny_base, lead, dataset, monkeypatch
):
    monkeypatch.setattr(distributed, "ENTRY_MODULE", "tests.training.crashing_rank")
    # Rank 0 waits for rank 1 in an all-reduce; torchrun stops it, and were it not to, the
    # collective gives up after this long: the test cannot hang.
    monkeypatch.setattr(distributed, "COLLECTIVE_TIMEOUT", timedelta(seconds=60))
    run = start_training_run(
        dataset, actor=lead, base_model=tiny_base, options=RUN_OPTIONS, enqueue=False
    )
    run = execute_training_run(run.pk)
    assert run.status == RunStatus.FAILED
    assert run.error == (
        "DistributedTrainingFailed: Rank 1 of 2 failed: RuntimeError: rank 1 lost its device"
    )
    assert run.world_size == 2
    assert not ModelVersion.objects.filter(run=run).exists()
    assert not run_output_dir(run.pk)[0].exists()
