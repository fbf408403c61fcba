"""The policy registry through the API: list and detail (with each evaluation's verdict),
promotion through the gate (refused, allowed, overridden), rollback of policies and reward
models, the registry events as webhook payloads, bad bodies (400 in the one shape, naming
the field, nothing stored) and who may do what."""

import pytest

from annotation.models import AuditEvent
from tests.policies.gate_fixtures import (
    candidate_and_production,
    evaluated,
    remove_artifacts,
    reward_version,
)
from tests.support.builders import export_of, policy_version
from training.models import ModelVersion, PolicyVersion, RegistryEvent
from training.services.registry import promote_model_version

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def dataset(lead, sprint):
    return export_of(sprint, lead)


@pytest.fixture
def pair(dataset, lead):
    return candidate_and_production(dataset, lead)


@pytest.fixture
def client(api_client_for, lead):
    return api_client_for(lead)


def post(client, url, body):
    return client.post(f"{API}/{url}", body, format="json")


def stored() -> tuple:
    return (
        sorted(PolicyVersion.objects.values_list("version", "stage")),
        sorted(ModelVersion.objects.values_list("version", "stage")),
        RegistryEvent.objects.count(),
        AuditEvent.objects.count(),
    )


def test_list_and_detail_show_the_evaluations_verdicts(pair, lead, client):
    candidate, production = pair
    evaluation = evaluated(candidate, production, lead, wins=12)
    listed = client.get(f"{API}/policies").json()["results"]
    assert [(p["label"], p["stage"]) for p in listed] == [
        ("support-policy@v2", "candidate"), ("support-policy@v1", "production")]  # fmt: skip
    detail = client.get(f"{API}/policies/{candidate.pk}").json()
    [shown] = detail["evaluations"]
    assert shown["id"] == evaluation.pk and shown["verdict"]["allowed"] is False
    assert shown["verdict"]["human"]["n"] == 12
    assert shown["verdict"]["reasons"] == ["12 human comparison(s); the rule needs at least 30."]


def test_promotion_refused_then_overridden_then_rolled_back(pair, lead, client):
    candidate, production = pair
    evaluation = evaluated(candidate, production, lead, wins=20, losses=18)
    url = f"policies/{candidate.pk}/promote"
    refused = post(client, url, {"stage": "production", "evaluation": evaluation.pk})
    assert refused.status_code == 409
    messages = [problem["message"] for problem in refused.json()["errors"]]
    assert any("not above 0.5" in message for message in messages)
    assert refused.json()["errors"][-1]["field"] == "override_reason"

    overridden = post(client, url, {"stage": "production", "evaluation": evaluation.pk,
                                    "override_reason": "The old one leaks PII."})  # fmt: skip
    assert overridden.status_code == 200 and overridden.json()["stage"] == "production"
    events = client.get(f"{API}/registry-events", {"registry": "policy"}).json()["results"]
    assert [(e["event"], e["version"]) for e in events] == [
        ("promoted", 2), ("archived", 1), ("promoted", 1)]  # fmt: skip
    assert events[0]["override"] is True and events[0]["reason"] == "The old one leaks PII."
    assert events[0]["evidence"]["human"]["n"] == 38 and events[0]["actor"] == "lead"

    assert post(client, f"policies/{production.pk}/rollback", {"reason": "x"}).status_code == 409
    back = post(client, f"policies/{candidate.pk}/rollback", {"reason": "Worse on refunds."})
    assert back.status_code == 200 and back.json()["id"] == production.pk
    assert back.json()["stage"] == "production"
    latest = client.get(f"{API}/registry-events", {"name": "support-policy"}).json()["results"][0]
    assert (latest["event"], latest["previous_id"], latest["reason"]) == (
        "rolled_back", candidate.pk, "Worse on refunds.")  # fmt: skip


def test_a_clear_win_promotes_without_override(pair, lead, client):
    candidate, production = pair
    evaluated(candidate, production, lead, wins=30, losses=5)
    response = post(client, f"policies/{candidate.pk}/promote", {"stage": "production"})
    assert response.status_code == 200 and response.json()["stage"] == "production"


def test_reward_model_rollback(dataset, lead, client):
    versions = [reward_version(dataset, lead, version=n) for n in (1, 2)]
    for version in versions:
        promote_model_version(version, "production", actor=lead)
    remove_artifacts(versions[0])
    before = stored()
    gone = post(client, f"models/{versions[1].pk}/rollback", {"reason": "drifted"})
    assert gone.status_code == 409 and "artifacts" in gone.json()["detail"]
    assert stored() == before
    events = client.get(f"{API}/registry-events", {"registry": "reward"}).json()["results"]
    assert [(e["event"], e["version"], e["previous_id"]) for e in events] == [
        ("promoted", 2, versions[0].pk), ("archived", 1, None), ("promoted", 1, None)]  # fmt: skip


def test_reward_model_rollback_restores_the_previous_version(dataset, lead, client):
    versions = [reward_version(dataset, lead, version=n) for n in (1, 2)]
    for version in versions:
        promote_model_version(version, "production", actor=lead)
    response = post(client, f"models/{versions[1].pk}/rollback", {"reason": "drifted"})
    assert response.status_code == 200 and response.json()["id"] == versions[0].pk
    assert sorted(ModelVersion.objects.values_list("version", "stage")) == [
        (1, "production"), (2, "archived")]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("promote", {}, "stage"),
        ("promote", {"stage": "live"}, "stage"),
        ("promote", {"stage": "production", "evaluation": "x"}, "evaluation"),
        ("promote", {"stage": "production", "evaluation": 999999}, "evaluation"),
        ("promote", {"stage": "production", "override_reason": 5}, "override_reason"),
        ("promote", {"stage": "production", "override_reason": "x" * 2001}, "override_reason"),
        ("promote", {"stage": "production", "override_reason": "   "}, "override_reason"),
        ("promote", {"stage": "production", "override_reason": ""}, "override_reason"),
        ("promote", {"stage": "production", "extra": 1}, "extra"),
        ("rollback", {}, "reason"),
        ("rollback", {"reason": ""}, "reason"),
        ("rollback", {"reason": "   "}, "reason"),
        ("rollback", {"reason": ["x"]}, "reason"),
        ("rollback", {"reason": "x", "to": 1}, "to"),
    ],
)
def test_bad_bodies_are_400_naming_the_field_and_store_nothing(pair, client, url, body, field):
    candidate, production = pair
    target = candidate if url == "promote" else production
    before = stored()
    response = post(client, f"policies/{target.pk}/{url}", body)
    assert response.status_code == 400, response.json()
    assert field in [problem.get("field") for problem in response.json()["errors"]]
    assert stored() == before


def test_an_evaluation_of_another_policy_is_a_400(pair, dataset, lead, client):
    candidate, production = pair
    other = evaluated(policy_version(dataset, lead), production, lead, wins=40)
    response = post(client, f"policies/{candidate.pk}/promote",
                    {"stage": "production", "evaluation": other.pk})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "evaluation"


def test_bad_registry_filter_is_a_400(client):
    response = client.get(f"{API}/registry-events", {"registry": "both"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "registry"


def test_who_may(pair, lead, annotator, reviewer, make_user, other_sprint, api_client_for):
    from annotation.models import SprintMember, SprintRole

    candidate, production = pair
    evaluated(candidate, production, lead, wins=40)
    lead_b = make_user("lead-b")
    SprintMember.objects.create(sprint=other_sprint, user=lead_b, role=SprintRole.LEAD)
    before = stored()
    for user, status in ((annotator, 403), (reviewer, 403), (lead_b, 404)):
        client = api_client_for(user)
        assert client.get(f"{API}/policies/{candidate.pk}").status_code == status
        promote = post(client, f"policies/{candidate.pk}/promote", {"stage": "production"})
        assert promote.status_code == status
        back = post(client, f"policies/{production.pk}/rollback", {"reason": "no"})
        assert back.status_code == status
        assert client.get(f"{API}/policies").json()["results"] == []
        assert client.get(f"{API}/registry-events").json()["results"] == []
    assert stored() == before
