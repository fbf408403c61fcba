"""Which base model a run may start from (issue 13, "training from another team's model").

As found: ``base_model`` was any host path, so the lead of sprint A trained from
``<data dir>/training/runs/run-<B's run>`` and registered B's fine-tuned model as A's, and the
worker's error told which directories existed. Now a run starts from a registered model version
the caller leads (``model:<id>``) or from a directory under the operator's
``CONCORD_BASE_MODEL_ROOTS``; everything else gets one message, on every door, and the worker
checks again before loading."""

import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils.html import escape

from annotation.models import SprintMember
from tests.training.trainer_fixtures import save_tiny_decoder
from training.models import ModelVersion, RunStatus, TrainingRun
from training.services.base_models import REFUSED, base_model_path
from training.services.runs import execute_training_run, run_output_dir, start_training_run

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/training-runs"
ONE_ERROR = {
    "detail": f"base_model: {REFUSED}",
    "errors": [{"field": "base_model", "message": REFUSED}],
}
TINY = {"epochs": 1, "batch_size": 8, "max_length": 64, "learning_rate": 1e-3, "device": "cpu"}


@pytest.fixture
def root(settings, tmp_path) -> Path:
    """An operator's model directory, listed after the default root, holding ``tiny``."""
    models = tmp_path / "models"
    save_tiny_decoder(models / "tiny")
    settings.CONCORD_BASE_MODEL_ROOTS = [*settings.CONCORD_BASE_MODEL_ROOTS, str(models)]
    return models


@pytest.fixture
def dataset_b(make_dataset, other_sprint, lead_b):
    return make_dataset([other_sprint], created_by=lead_b)


def with_artifacts(model: ModelVersion, creator) -> ModelVersion:
    """``model`` with a tiny model as its run's artifacts, in the data directory."""
    directory, relative = run_output_dir(model.run_id)
    save_tiny_decoder(directory)
    TrainingRun.objects.filter(pk=model.run_id).update(artifacts_dir=relative, created_by=creator)
    model.run.refresh_from_db()
    return model


@pytest.fixture
def model_b(make_model_version, dataset_b, lead_b):
    """Sprint B's registered model, with real artifacts."""
    return with_artifacts(make_model_version(dataset_b, name="reward-b"), lead_b)


@pytest.fixture
def model_a(make_model_version, dataset, lead):
    """Sprint A's registered model, with real artifacts."""
    return with_artifacts(make_model_version(dataset, name="reward-a"), lead)


def start(client, dataset, base_model, **options):
    return client.post(
        RUNS, {"dataset": dataset.pk, "base_model": base_model, **options}, format="json"
    )


def test_a_lead_cannot_train_from_another_teams_run_directory(
    lead, dataset, model_b, api_client_for
):
    """The finding as found: 202 and a run that trained on B's model; now 400, nothing kept."""
    b_directory = str(run_output_dir(model_b.run_id)[0])
    assert Path(b_directory, "config.json").is_file()
    response = start(api_client_for(lead), dataset, b_directory)
    assert response.status_code == 400, response.json()
    assert response.json() == ONE_ERROR
    assert TrainingRun.objects.count() == 1, "only B's run"


def refused_values(root: Path, model_b: ModelVersion, tmp_path: Path) -> list[str]:
    """Base models that must all get the one message: missing or present, outside the roots,
    escaping them, another team's, the data directory."""
    data_dir = Path(settings.DATA_DIR)
    elsewhere = tmp_path / "elsewhere"
    save_tiny_decoder(elsewhere)
    (root / "weights.bin").write_bytes(b"not a directory")
    (root / "link-out").symlink_to(elsewhere)
    (root / "link-to-runs").symlink_to(data_dir / "training" / "runs")
    b_directory = run_output_dir(model_b.run_id)[0]
    return [
        "/nonexistent/models/no-such-encoder",  # does not exist
        str(elsewhere),  # exists, outside every root
        str(b_directory),  # another team's run
        str(root / "tiny" / ".." / ".." / "elsewhere"),  # `..` out of a root
        "../elsewhere",  # a name that climbs out of its root
        os.path.relpath(b_directory, root),  # a name that climbs into the data directory
        "link-out",  # a symlink in a root to a directory outside
        f"link-to-runs/run-{model_b.run_id}",  # a symlink in a root into the data directory
        str(root / "weights.bin"),  # a file, not a model directory
        "no-such-name",
        f"model:{model_b.pk}",  # B's registered model version
        "model:999999",
        "model:first",
    ]


def test_everything_else_gets_one_message_whether_it_exists_or_not(
    lead, dataset, root, model_b, api_client_for, tmp_path
):
    client = api_client_for(lead)
    for value in refused_values(root, model_b, tmp_path):
        response = start(client, dataset, value)
        assert (response.status_code, response.json()) == (400, ONE_ERROR), value
    assert not TrainingRun.objects.exclude(pk=model_b.run_id).exists()


def test_a_model_version_a_member_does_not_lead_is_refused(
    lead, dataset, model_b, other_sprint, api_client_for
):
    SprintMember.objects.create(sprint=other_sprint, user=lead, role="reviewer")
    response = start(api_client_for(lead), dataset, f"model:{model_b.pk}")
    assert (response.status_code, response.json()) == (400, ONE_ERROR)


def test_the_data_directory_is_never_a_root(settings, lead, dataset, model_b, api_client_for):
    data_dir = Path(settings.DATA_DIR)
    settings.CONCORD_BASE_MODEL_ROOTS = [str(data_dir.parent), str(data_dir / "training")]
    client = api_client_for(lead)
    for value in (str(run_output_dir(model_b.run_id)[0]), f"runs/run-{model_b.run_id}"):
        response = start(client, dataset, value)
        assert (response.status_code, response.json()) == (400, ONE_ERROR), value


def test_a_name_or_a_path_under_a_root_is_accepted(lead, dataset, root, api_client_for):
    (root / "link-in").symlink_to(root / "tiny")
    client = api_client_for(lead)
    for value in ("tiny", str(root / "tiny"), str(root / "tiny" / ".." / "tiny"), "link-in"):
        response = start(client, dataset, value)
        assert response.status_code == 202, (value, response.json())
        assert TrainingRun.objects.get(pk=response.json()["id"]).base_model == value


def test_the_default_base_model_is_under_the_default_root(lead, dataset, api_client_for):
    from training.services.trainer import DEFAULT_BASE_MODEL

    resolved = str(Path(DEFAULT_BASE_MODEL).resolve())
    assert base_model_path(DEFAULT_BASE_MODEL, actor=lead) == resolved
    assert start(api_client_for(lead), dataset, "").status_code == 202


def test_a_lead_trains_from_their_own_registered_model(lead, dataset, model_a, api_client_for):
    response = start(api_client_for(lead), dataset, f"model:{model_a.pk}", **TINY)
    assert response.status_code == 202, response.json()
    run = execute_training_run(response.json()["id"])
    assert run.status == RunStatus.DONE, run.error
    assert run.base_model == f"model:{model_a.pk}"
    assert run.config["base_model"] == str(run_output_dir(model_a.run_id)[0].resolve())
    assert ModelVersion.objects.get(run=run).name == "reward-sprint-a"


def test_an_own_model_without_artifacts_is_400_saying_so(
    lead, dataset, make_model_version, api_client_for
):
    """The caller leads it, so the reason may be told: its artifacts are gone."""
    model = make_model_version(dataset, name="reward-a")
    response = start(api_client_for(lead), dataset, f"model:{model.pk}")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (
        error["field"] == "base_model"
        and "artifacts of reward-a v1 are missing" in error["message"]
    )
    assert TrainingRun.objects.count() == 1, "only the model's own run"


def test_the_worker_refuses_a_run_stored_before_the_rule(lead, dataset, model_b):
    """A run queued earlier with B's directory fails on the worker, before loading, with the
    one message and no path in it."""
    run = TrainingRun.objects.create(
        dataset=dataset,
        model_name="reward-sprint-a",
        base_model=str(run_output_dir(model_b.run_id)[0]),
        created_by=lead,
    )
    run = execute_training_run(run.pk)
    assert run.status == RunStatus.FAILED
    assert run.error == f"base_model: {REFUSED}"
    assert not ModelVersion.objects.filter(run=run).exists()
    assert not run_output_dir(run.pk)[0].exists()


def test_the_worker_refuses_a_model_its_creator_no_longer_leads(lead, dataset, model_a):
    run = start_training_run(dataset, actor=lead, base_model=f"model:{model_a.pk}", enqueue=False)
    SprintMember.objects.filter(user=lead).delete()
    run = execute_training_run(run.pk)
    assert (run.status, run.error) == (RunStatus.FAILED, f"base_model: {REFUSED}")


def test_the_admin_form_refuses_with_the_one_message(lead_admin_client, dataset, model_b, tmp_path):
    body = {
        "dataset": dataset.pk,
        "base_model": str(run_output_dir(model_b.run_id)[0]),
        "name": "",
        "epochs": 1,
        "batch_size": 8,
        "learning_rate": 5e-5,
        "max_length": 64,
        "seed": 0,
    }
    for value in (body["base_model"], "/nonexistent/models/no-such-encoder"):
        page = lead_admin_client.post(
            "/admin/training/trainingrun/start/", {**body, "base_model": value}
        )
        assert page.status_code == 200
        assert escape(REFUSED) in page.text
        assert value not in page.text.replace(f'value="{value}"', "")
    assert TrainingRun.objects.count() == 1, "only B's run"


@pytest.mark.parametrize("which", ["b-run", "missing", "b-model"])
def test_the_command_refuses_with_the_one_message(lead, dataset, model_b, which):
    value = {
        "b-run": str(run_output_dir(model_b.run_id)[0]),
        "missing": "/no/such/model",
        "b-model": f"model:{model_b.pk}",
    }[which]
    with pytest.raises(CommandError) as refused:
        call_command(
            "train_reward_model",
            str(dataset.pk),
            f"--base-model={value}",
            "--user=lead",
            "--no-progress",
            stdout=io.StringIO(),
        )
    assert str(refused.value) == f"base_model: {REFUSED}"
    assert TrainingRun.objects.count() == 1, "only B's run"


def test_the_command_as_the_operator_trains_from_a_name_under_a_root(dataset, root):
    out = io.StringIO()
    call_command(
        "train_reward_model",
        str(dataset.pk),
        "--base-model=tiny",
        "--epochs=1",
        "--max-length=64",
        "--learning-rate=1e-3",
        "--device=cpu",
        "--no-progress",
        stdout=out,
    )
    run = TrainingRun.objects.get()
    assert run.status == RunStatus.DONE and run.created_by is None
    assert run.base_model == "tiny" and run.config["base_model"] == str((root / "tiny").resolve())
