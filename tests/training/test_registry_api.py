"""The model registry through the API: listing, promoting (one production version per name,
audited), registration numbering, scoring refusals, and who may do what. Scoring with a real
model is in test_training_worker.py and test_scoring.py."""

import pytest
from django.db import IntegrityError, transaction

from annotation.models import AuditEvent
from training.models import ModelStage, ModelVersion, RunStatus, TrainingRun
from training.services.registry import register_model_version

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models"


def promote(client, model, stage="production"):
    return client.post(f"{MODELS}/{model.pk}/promote", {"stage": stage}, format="json")


def test_promoting_to_production_archives_the_previous_one(
    lead, dataset, make_model_version, api_client_for
):
    first = make_model_version(dataset, version=1, stage=ModelStage.PRODUCTION)
    second = make_model_version(dataset, version=2)
    other_name = make_model_version(dataset, name="other", stage=ModelStage.PRODUCTION)

    response = promote(api_client_for(lead), second)
    assert response.status_code == 200
    assert response.json()["stage"] == "production"
    assert response.json()["promoted_by"] == "lead"
    first.refresh_from_db()
    second.refresh_from_db()
    other_name.refresh_from_db()
    assert (first.stage, second.stage) == ("archived", "production")
    assert other_name.stage == "production", "another name's production is untouched"
    assert second.promoted_at is not None
    promoted = AuditEvent.objects.get(action="model_version.promoted")
    assert promoted.object_id == str(second.pk) and promoted.actor == lead
    assert promoted.changes["stage"] == ["candidate", "production"]
    archived = AuditEvent.objects.get(action="model_version.archived")
    assert archived.object_id == str(first.pk)


def test_promoting_to_the_current_stage_changes_nothing(
    lead, dataset, make_model_version, api_client_for
):
    model = make_model_version(dataset, stage=ModelStage.PRODUCTION)
    assert promote(api_client_for(lead), model).status_code == 200
    assert not AuditEvent.objects.filter(action__startswith="model_version.").exists()


def test_archiving_and_back_to_candidate(lead, dataset, make_model_version, api_client_for):
    model = make_model_version(dataset, stage=ModelStage.PRODUCTION)
    client = api_client_for(lead)
    assert promote(client, model, "archived").json()["stage"] == "archived"
    assert promote(client, model, "candidate").json()["stage"] == "candidate"
    assert not ModelVersion.objects.filter(stage=ModelStage.PRODUCTION).exists()


@pytest.mark.parametrize(
    "body, field",
    [({"stage": "live"}, "stage"), ({}, "stage"), ({"stage": "production", "x": 1}, "x")],
)
def test_bad_promote_bodies_are_400(lead, dataset, make_model_version, api_client_for, body, field):
    model = make_model_version(dataset)
    response = api_client_for(lead).post(f"{MODELS}/{model.pk}/promote", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    model.refresh_from_db()
    assert model.stage == "candidate"


def test_the_database_allows_one_production_version_per_name(dataset, make_model_version):
    make_model_version(dataset, version=1, stage=ModelStage.PRODUCTION)
    second = make_model_version(dataset, version=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(stage=ModelStage.PRODUCTION)


def test_registration_numbers_versions_per_name_and_is_idempotent(lead, dataset):
    def done_run(name):
        return TrainingRun.objects.create(
            dataset=dataset,
            model_name=name,
            base_model="base",
            status=RunStatus.DONE,
            metrics={"final_accuracy": 0.9},
            created_by=lead,
        )

    first, second, other = done_run("rm"), done_run("rm"), done_run("other-rm")
    assert register_model_version(first).version == 1
    assert register_model_version(second).version == 2
    assert register_model_version(other).version == 1
    again = register_model_version(second)
    assert again.version == 2 and ModelVersion.objects.filter(run=second).count() == 1
    assert again.stage == "candidate" and again.metrics == {"final_accuracy": 0.9}
    assert list(again.sprints.all()) == list(dataset.sprints.all())


def test_list_and_detail_are_scoped_to_the_lead(
    lead, lead_b, other_sprint, dataset, make_dataset, make_model_version, api_client_for
):
    mine = make_model_version(dataset)
    theirs = make_model_version(make_dataset([other_sprint], created_by=lead_b), name="b")
    listed = api_client_for(lead).get(MODELS).json()["results"]
    assert [m["id"] for m in listed] == [mine.pk]
    detail = api_client_for(lead).get(f"{MODELS}/{mine.pk}").json()
    assert detail["name"] == "reward-a" and detail["version"] == 1
    assert detail["stage"] == "candidate" and detail["dataset"] == dataset.pk
    assert detail["sprints"] == [dataset.sprints.get().pk]
    assert api_client_for(lead).get(f"{MODELS}/{theirs.pk}").status_code == 404
    assert api_client_for(lead_b).get(f"{MODELS}/{mine.pk}").status_code == 404


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_members_who_are_not_leads_get_403(
    request, role, dataset, make_model_version, api_client_for
):
    model = make_model_version(dataset, stage=ModelStage.PRODUCTION)
    client = api_client_for(request.getfixturevalue(role))
    assert client.get(f"{MODELS}/{model.pk}").status_code == 403
    assert promote(client, model, "archived").status_code == 403
    score = client.post(
        f"{MODELS}/{model.pk}/score", {"prompt": "p", "responses": ["a"]}, format="json"
    )
    assert score.status_code == 403
    assert client.get(MODELS).json()["results"] == []
    model.refresh_from_db()
    assert model.stage == "production"


def test_another_lead_and_anonymous(lead_b, dataset, make_model_version, api_client_for):
    model = make_model_version(dataset, stage=ModelStage.PRODUCTION)
    body = {"prompt": "p", "responses": ["a"]}
    for client, status in ((api_client_for(lead_b), 404), (api_client_for(None), 401)):
        assert promote(client, model, "archived").status_code == status
        assert client.get(f"{MODELS}/{model.pk}").status_code == status
        assert client.post(f"{MODELS}/{model.pk}/score", body, format="json").status_code == status
    assert api_client_for(None).get(MODELS).status_code == 401
    assert api_client_for(lead_b).get(MODELS).json()["results"] == []
    model.refresh_from_db()
    assert model.stage == "production"


@pytest.mark.parametrize("stage", [ModelStage.CANDIDATE, ModelStage.ARCHIVED])
def test_only_a_production_model_scores(lead, dataset, make_model_version, api_client_for, stage):
    model = make_model_version(dataset, stage=stage)
    response = api_client_for(lead).post(
        f"{MODELS}/{model.pk}/score", {"prompt": "p", "responses": ["a", "b"]}, format="json"
    )
    assert response.status_code == 409
    assert f"is {stage.value}; only a production model scores" in response.json()["detail"]


def test_a_production_model_without_artifacts_is_409(
    lead, dataset, make_model_version, api_client_for
):
    model = make_model_version(
        dataset, stage=ModelStage.PRODUCTION, artifacts_dir="training/runs/gone"
    )
    response = api_client_for(lead).post(
        f"{MODELS}/{model.pk}/score", {"prompt": "p", "responses": ["a"]}, format="json"
    )
    assert response.status_code == 409
    assert "artifacts" in response.json()["detail"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"responses": ["a"]}, "prompt"),
        ({"prompt": "p"}, "responses"),
        ({"prompt": "p", "responses": []}, "responses"),
        ({"prompt": "p", "responses": "a"}, "responses"),
        ({"prompt": 3, "responses": ["a"]}, "prompt"),
        ({"prompt": [{"role": "user"}], "responses": ["a"]}, "prompt"),
        ({"prompt": "p", "responses": ["a", {"text": "b"}]}, "responses"),
        ({"prompt": "p", "responses": ["a"] * 65}, "responses"),
        ({"prompt": "p", "responses": ["a"], "temperature": 1}, "temperature"),
    ],
)
def test_bad_score_bodies_are_400(lead, dataset, make_model_version, api_client_for, body, field):
    model = make_model_version(dataset, stage=ModelStage.PRODUCTION)
    response = api_client_for(lead).post(f"{MODELS}/{model.pk}/score", body, format="json")
    assert response.status_code == 400, response.json()
    fields = [error.get("field", "") for error in response.json()["errors"]]
    # A list's item is named by its index: responses[1].
    assert any(name == field or name.startswith((f"{field}.", f"{field}[")) for name in fields), (
        fields
    )
