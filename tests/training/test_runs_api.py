"""Starting, reading and cancelling training runs through the API: validation (a clear 4xx,
nothing stored), the queued run and its enqueue on commit, and who may do what."""

import pytest

from annotation.models import AuditEvent, SprintMember, SprintRole
from training.models import RunStatus, TrainingRun
from training.services.trainer import DEFAULT_BASE_MODEL, TrainConfig

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/training-runs"


def start(client, **body):
    return client.post(RUNS, body, format="json")


def test_lead_starts_a_run_queued_with_the_trainer_defaults(
    lead, dataset, api_client_for, django_capture_on_commit_callbacks
):
    client = api_client_for(lead)
    with django_capture_on_commit_callbacks() as callbacks:
        response = start(client, dataset=dataset.pk, epochs=2, learning_rate=1e-4, seed=7)
    assert response.status_code == 202, response.json()
    run = TrainingRun.objects.get()
    assert response.json() == {"id": run.pk, "status": "queued"}
    assert len(callbacks) == 1, "the task is enqueued once the transaction commits"
    assert run.status == RunStatus.QUEUED and run.created_by == lead
    assert run.base_model == DEFAULT_BASE_MODEL
    assert run.model_name == "reward-sprint-a"
    defaults = TrainConfig()
    assert run.config["epochs"] == 2 and run.config["learning_rate"] == 1e-4
    assert run.config["seed"] == 7
    assert run.config["batch_size"] == defaults.batch_size
    assert (run.config["pooling"], run.config["patience"]) == (defaults.pooling, defaults.patience)

    assert run.config["max_length"] == defaults.max_length
    event = AuditEvent.objects.get(action="training_run.started")
    assert event.object_id == str(run.pk) and event.actor == lead

    detail = client.get(f"{RUNS}/{run.pk}").json()
    assert detail["status"] == "queued" and detail["progress"] == 0.0
    assert detail["metrics"] == {} and detail["dataset"] == dataset.pk
    assert detail["name"] == "reward-sprint-a" and detail["model_version"] is None


def test_pooling_and_patience_are_run_options(lead, dataset, api_client_for):
    response = start(api_client_for(lead), dataset=dataset.pk, pooling="model", patience=1)
    assert response.status_code == 202, response.json()
    run = TrainingRun.objects.get()
    assert (run.config["pooling"], run.config["patience"]) == ("model", 1)


def test_a_named_run_with_a_base_model_path(lead, dataset, api_client_for, settings, tmp_path):
    (tmp_path / "some-encoder").mkdir()
    settings.CONCORD_BASE_MODEL_ROOTS = [str(tmp_path)]
    response = start(
        api_client_for(lead),
        dataset=dataset.pk,
        base_model=str(tmp_path / "some-encoder"),
        name="support-rm",
        device="cpu",
        use_margin=False,
    )
    assert response.status_code == 202
    run = TrainingRun.objects.get()
    assert run.model_name == "support-rm" and run.base_model == str(tmp_path / "some-encoder")
    assert run.config["device"] == "cpu" and run.config["use_margin"] is False


@pytest.mark.parametrize(
    "body, field",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 101}, "epochs"),
        ({"epochs": "many"}, "epochs"),
        ({"batch_size": True}, "batch_size"),
        ({"learning_rate": 2.0}, "learning_rate"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"warmup_ratio": 1.5}, "warmup_ratio"),
        ({"max_length": 4}, "max_length"),
        ({"seed": -1}, "seed"),
        ({"pooling": "max"}, "pooling"),
        ({"patience": 0}, "patience"),
        ({"device": "tpu"}, "device"),
        ({"name": "bad name!"}, "name"),
        ({"base_model": "x" * 501}, "base_model"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"dataset": "first"}, "dataset"),
    ],
)
def test_bad_values_are_400_naming_the_field_and_nothing_is_stored(
    lead, dataset, api_client_for, body, field
):
    response = start(api_client_for(lead), **{"dataset": dataset.pk, **body})
    assert response.status_code == 400, response.json()
    assert field in [error.get("field") for error in response.json()["errors"]]
    assert not TrainingRun.objects.exists()


def test_a_missing_dataset_field_is_400(lead, api_client_for):
    response = start(api_client_for(lead), epochs=1)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "dataset"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"status": "running"}, "only a finished (done) export"),
        ({"status": "failed"}, "only a finished (done) export"),
        ({"kind": "judgments"}, "needs a preference export"),
    ],
)
def test_an_unusable_dataset_is_400(lead, sprint, make_dataset, api_client_for, fields, message):
    unusable = make_dataset([sprint], **fields)
    response = start(api_client_for(lead), dataset=unusable.pk)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "dataset"
    assert message in response.json()["errors"][0]["message"]
    assert not TrainingRun.objects.exists()


def test_a_csv_dataset_is_refused(lead, sprint, make_dataset, api_client_for):
    csv_dataset = make_dataset([sprint], [], fmt="csv")
    response = start(api_client_for(lead), dataset=csv_dataset.pk)
    assert response.status_code == 400
    assert "JSONL or Parquet" in response.json()["errors"][0]["message"]


def test_a_dataset_of_another_sprint_or_none_is_404(
    lead, lead_b, other_sprint, make_dataset, api_client_for
):
    theirs = make_dataset([other_sprint], created_by=lead_b)
    for dataset_id in (theirs.pk, theirs.pk + 1000):
        response = start(api_client_for(lead), dataset=dataset_id)
        assert response.status_code == 404
        assert response.json() == {"detail": "No such dataset.", "errors": []}
    assert not TrainingRun.objects.exists()


def test_a_dataset_spanning_a_sprint_the_caller_does_not_lead_is_403(
    lead, sprint, other_sprint, make_dataset, api_client_for
):
    both = make_dataset([sprint, other_sprint])
    response = start(api_client_for(lead), dataset=both.pk)
    assert response.status_code == 403
    assert not TrainingRun.objects.exists()


def test_a_name_used_by_another_team_is_refused(
    lead, lead_b, dataset, other_sprint, make_dataset, make_model_version, api_client_for
):
    make_model_version(make_dataset([other_sprint], created_by=lead_b), name="shared-name")
    response = start(api_client_for(lead), dataset=dataset.pk, name="shared-name")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "name"
    assert TrainingRun.objects.count() == 1  # only the other team's


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_annotators_and_reviewers_cannot_start_runs(request, role, dataset, api_client_for):
    user = request.getfixturevalue(role)
    response = start(api_client_for(user), dataset=dataset.pk)
    assert response.status_code == 403
    assert not TrainingRun.objects.exists()


def test_anonymous_is_401(dataset, api_client_for):
    assert start(api_client_for(None), dataset=dataset.pk).status_code == 401
    assert api_client_for(None).get(RUNS).status_code == 401


@pytest.fixture
def queued_run(lead, dataset, api_client_for) -> TrainingRun:
    response = start(api_client_for(lead), dataset=dataset.pk)
    return TrainingRun.objects.get(pk=response.json()["id"])


def test_reading_a_run_needs_the_lead_role(
    queued_run, lead, lead_b, annotator, reviewer, api_client_for
):
    url = f"{RUNS}/{queued_run.pk}"
    assert api_client_for(lead).get(url).status_code == 200
    assert api_client_for(annotator).get(url).status_code == 403
    assert api_client_for(reviewer).get(url).status_code == 403
    assert api_client_for(lead_b).get(url).status_code == 404
    assert api_client_for(lead).get(f"{RUNS}/{queued_run.pk + 1000}").status_code == 404
    assert api_client_for(None).get(url).status_code == 401


def test_the_list_shows_only_runs_of_datasets_the_caller_leads(
    queued_run, lead, lead_b, annotator, other_sprint, make_dataset, api_client_for
):
    theirs = make_dataset([other_sprint], created_by=lead_b)
    start(api_client_for(lead_b), dataset=theirs.pk)
    assert [run["id"] for run in api_client_for(lead).get(RUNS).json()["results"]] == [
        queued_run.pk
    ]
    assert len(api_client_for(lead_b).get(RUNS).json()["results"]) == 1
    assert api_client_for(annotator).get(RUNS).json()["results"] == []


def test_a_superuser_sees_and_starts_runs_anywhere(make_user, dataset, api_client_for):
    admin = make_user("root", is_superuser=True, is_staff=True)
    response = start(api_client_for(admin), dataset=dataset.pk)
    assert response.status_code == 202
    assert api_client_for(admin).get(f"{RUNS}/{response.json()['id']}").status_code == 200


def test_cancelling_a_queued_run_cancels_it_at_once(queued_run, lead, api_client_for):
    client = api_client_for(lead)
    response = client.post(f"{RUNS}/{queued_run.pk}/cancel")
    assert response.status_code == 202
    assert response.json() == {"id": queued_run.pk, "status": "cancelled", "cancel_requested": True}
    queued_run.refresh_from_db()
    assert queued_run.status == RunStatus.CANCELLED and queued_run.finished_at is not None
    # Again: nothing changes.
    assert client.post(f"{RUNS}/{queued_run.pk}/cancel").json()["status"] == "cancelled"
    assert AuditEvent.objects.filter(action="training_run.cancel_requested").count() == 2


def test_cancelling_a_running_run_flags_it_for_its_worker(queued_run, lead, api_client_for):
    TrainingRun.objects.filter(pk=queued_run.pk).update(status=RunStatus.RUNNING)
    response = api_client_for(lead).post(f"{RUNS}/{queued_run.pk}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "running" and response.json()["cancel_requested"]


@pytest.mark.parametrize("status", [RunStatus.DONE, RunStatus.FAILED])
def test_a_finished_run_cannot_be_cancelled(queued_run, lead, api_client_for, status):
    TrainingRun.objects.filter(pk=queued_run.pk).update(status=status)
    response = api_client_for(lead).post(f"{RUNS}/{queued_run.pk}/cancel")
    assert response.status_code == 409
    assert "already finished" in response.json()["detail"]
    queued_run.refresh_from_db()
    assert queued_run.status == status and not queued_run.cancel_requested


def test_only_the_lead_cancels(queued_run, lead_b, annotator, sprint, api_client_for):
    url = f"{RUNS}/{queued_run.pk}/cancel"
    assert api_client_for(annotator).post(url).status_code == 403
    assert api_client_for(lead_b).post(url).status_code == 404
    assert api_client_for(None).post(url).status_code == 401
    queued_run.refresh_from_db()
    assert queued_run.status == RunStatus.QUEUED and not queued_run.cancel_requested


def test_a_lead_of_one_sprint_who_is_annotator_of_another(
    lead, other_sprint, make_dataset, api_client_for
):
    SprintMember.objects.create(sprint=other_sprint, user=lead, role=SprintRole.ANNOTATOR)
    theirs = make_dataset([other_sprint])
    response = start(api_client_for(lead), dataset=theirs.pk)
    assert response.status_code == 403
    assert not TrainingRun.objects.exists()
