"""Rollback and promotion through the admin and the commands: the admin's rollback action (on
policies and reward models) asks for a reason first, then rolls back; the policy admin and the
registry events' admin are scoped to the lead; `promote_policy` and `rollback` act as the lead
named by --as and refuse anyone else."""

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from annotation.models import SprintMember, SprintRole
from tests.policies.gate_fixtures import evaluated, reward_version
from tests.support.builders import export_of, policy_version
from training.models import ModelVersion, PolicyVersion, RegistryEvent
from training.services.policy_gate import promote_policy
from training.services.registry import promote_model_version

pytestmark = pytest.mark.django_db
ADMIN = "/admin/training"


@pytest.fixture
def dataset(lead, sprint):
    return export_of(sprint, lead)


@pytest.fixture
def policies(dataset, lead):
    first, second = policy_version(dataset, lead), policy_version(dataset, lead)
    promote_policy(first, actor=lead)
    promote_policy(second, actor=lead, override_reason="the test promotes it")
    return first, second


@pytest.fixture
def rewards(dataset, lead):
    versions = [reward_version(dataset, lead, version=n) for n in (1, 2)]
    for version in versions:
        promote_model_version(version, "production", actor=lead)
    return versions


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stages(model) -> dict[int, str]:
    return dict(model.objects.values_list("version", "stage"))


@pytest.mark.parametrize("registry", ["policyversion", "modelversion"])
def test_the_admin_rollback_action_asks_for_a_reason(registry, policies, rewards, lead):
    model = PolicyVersion if registry == "policyversion" else ModelVersion
    current = model.objects.get(version=2)
    client = admin_client(lead)
    url = f"{ADMIN}/{registry}/"
    body = {"action": "rollback_to_previous", "_selected_action": [current.pk]}
    asked = client.post(url, body)
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    blank = client.post(url, {**body, "post": "yes", "reason": "  "})
    assert "Give a reason" in blank.content.decode()
    assert stages(model) == {1: "archived", 2: "production"}
    done = client.post(url, {**body, "post": "yes", "reason": "bad answers"}, follow=True)
    assert "production is v1 again" in done.content.decode()
    assert stages(model) == {1: "production", 2: "archived"}
    event = RegistryEvent.objects.get(event="rolled_back")
    assert event.reason == "bad answers" and event.actor == lead


def test_a_refused_admin_rollback_is_reported_and_changes_nothing(policies, lead):
    first, _ = policies
    client = admin_client(lead)
    body = {"action": "rollback_to_previous", "_selected_action": [first.pk], "post": "yes",
            "reason": "why not"}  # fmt: skip
    response = client.post(f"{ADMIN}/policyversion/", body, follow=True)
    assert "not in production" in response.content.decode()
    assert stages(PolicyVersion) == {1: "archived", 2: "production"}


def test_the_admin_is_scoped_to_the_lead(policies, lead, make_user, other_sprint):
    lead_b = make_user("lead-b", is_staff=True)
    SprintMember.objects.create(sprint=other_sprint, user=lead_b, role=SprintRole.LEAD)
    ours = admin_client(lead)
    assert "support-policy" in ours.get(f"{ADMIN}/policyversion/").content.decode()
    assert "support-policy" in ours.get(f"{ADMIN}/registryevent/").content.decode()
    theirs = admin_client(lead_b)
    assert "support-policy" not in theirs.get(f"{ADMIN}/policyversion/").content.decode()
    assert "support-policy" not in theirs.get(f"{ADMIN}/registryevent/").content.decode()
    body = {"action": "rollback_to_previous", "_selected_action": [policies[1].pk], "post": "yes",
            "reason": "mine now"}  # fmt: skip
    theirs.post(f"{ADMIN}/policyversion/", body)
    assert stages(PolicyVersion) == {1: "archived", 2: "production"}


def test_the_commands_promote_through_the_gate_and_roll_back(dataset, lead, capsys):
    first, second = policy_version(dataset, lead), policy_version(dataset, lead)
    call_command("promote_policy", str(first.pk), "--as", "lead")
    evaluation = evaluated(second, first, lead, wins=10, losses=8)
    with pytest.raises(CommandError, match=r"not above 0\.5"):
        call_command("promote_policy", str(second.pk), "--evaluation", str(evaluation.pk),
                     "--as", "lead")  # fmt: skip
    assert stages(PolicyVersion) == {1: "production", 2: "candidate"}
    call_command("promote_policy", str(second.pk), "--override-reason", "urgent fix",
                 "--as", "lead")  # fmt: skip
    assert RegistryEvent.objects.get(event="promoted", version_id=second.pk).override is True
    with pytest.raises(CommandError, match="reason"):
        call_command("rollback", "--policy", "support-policy", "--reason", " ", "--as", "lead")
    call_command("rollback", "--policy", "support-policy", "--reason", "too long", "--as", "lead")
    assert "production is v1 again" in capsys.readouterr().out
    assert stages(PolicyVersion) == {1: "production", 2: "archived"}


def test_the_rollback_command_for_reward_models(rewards, lead, capsys):
    call_command("rollback", "--reward-model", "support-rm", "--reason", "drift", "--as", "lead")
    assert stages(ModelVersion) == {1: "production", 2: "archived"}


def test_the_commands_refuse_who_does_not_lead(policies, rewards, annotator, make_user):
    make_user("stranger")
    for username in ("ann1", "stranger"):
        with pytest.raises(CommandError):
            call_command("rollback", "--policy", "support-policy", "--reason", "x",
                         "--as", username)  # fmt: skip
        with pytest.raises(CommandError):
            call_command("rollback", "--reward-model", "support-rm", "--reason", "x",
                         "--as", username)  # fmt: skip
        with pytest.raises(CommandError):
            call_command("promote_policy", str(policies[0].pk), "--override-reason", "x",
                         "--as", username)  # fmt: skip
    with pytest.raises(CommandError, match="no active user"):
        call_command("rollback", "--policy", "support-policy", "--reason", "x", "--as", "nobody")
    assert stages(PolicyVersion) == {1: "archived", 2: "production"}
    assert stages(ModelVersion) == {1: "archived", 2: "production"}
