"""Rollback for both registries: production returns to the version that held it before the
current one (twice walks back two promotions), audited and written as registry events; refused
without a reason, from a version not in production, with no earlier version, and when the
earlier version's artifacts are gone; only leads of the dataset roll back."""

import pytest

from annotation.models import AuditEvent
from annotation.services.errors import ConcordError
from tests.policies.gate_fixtures import remove_artifacts, reward_version
from tests.support.builders import export_of, policy_version
from training.models import ModelVersion, PolicyVersion, RegistryEvent
from training.services.registry import promote_model_version
from training.services.stages import rollback

pytestmark = pytest.mark.django_db
REASON = "v3 answers in the wrong language"


@pytest.fixture
def dataset(lead, sprint):
    return export_of(sprint, lead)


@pytest.fixture(params=["policy", "reward"])
def three(request, dataset, lead):
    """Three versions of one name, promoted in turn (v3 in production), in either registry."""
    if request.param == "policy":
        from training.services.policy_gate import promote_policy

        versions = [policy_version(dataset, lead) for _ in range(3)]
        for version in versions:
            promote_policy(version, actor=lead, override_reason="the test promotes it")
    else:
        versions = [reward_version(dataset, lead, version=n) for n in (1, 2, 3)]
        for version in versions:
            promote_model_version(version, "production", actor=lead)
    return request.param, versions


def stages(kind) -> dict[int, str]:
    model = PolicyVersion if kind == "policy" else ModelVersion
    return dict(model.objects.values_list("version", "stage"))


def test_rollback_restores_the_previous_version_and_twice_walks_back_two(three, lead):
    kind, (v1, v2, v3) = three
    assert stages(kind) == {1: "archived", 2: "archived", 3: "production"}
    assert rollback(v3, actor=lead, reason=f"  {REASON} ").pk == v2.pk
    assert stages(kind) == {1: "archived", 2: "production", 3: "archived"}
    back = RegistryEvent.objects.get(event="rolled_back")
    assert (back.registry, back.version_id, back.version, back.previous_id, back.reason) == (
        kind, v2.pk, 2, v3.pk, REASON)  # fmt: skip
    assert back.payload()["actor"] == "lead"
    archived = RegistryEvent.objects.filter(event="archived", version_id=v3.pk).get()
    assert archived.reason == REASON
    prefix = "policy_version" if kind == "policy" else "model_version"
    audit = AuditEvent.objects.get(action=f"{prefix}.rolled_back")
    assert audit.object_id == str(v2.pk) and audit.changes["reason"] == REASON

    v2.refresh_from_db()
    assert rollback(v2, actor=lead, reason="v2 too").pk == v1.pk
    assert stages(kind) == {1: "production", 2: "archived", 3: "archived"}
    v1.refresh_from_db()
    with pytest.raises(ConcordError) as refused:
        rollback(v1, actor=lead, reason="and again")
    assert refused.value.status == 409 and "No earlier version" in refused.value.detail


def test_rollback_refuses_when_the_earlier_versions_artifacts_are_gone(three, lead):
    kind, (_, v2, v3) = three
    remove_artifacts(v2)
    events = RegistryEvent.objects.count()
    with pytest.raises(ConcordError) as refused:
        rollback(v3, actor=lead, reason=REASON)
    assert refused.value.status == 409 and "artifacts" in refused.value.detail
    assert stages(kind) == {1: "archived", 2: "archived", 3: "production"}
    assert RegistryEvent.objects.count() == events


def test_rollback_needs_a_reason_and_a_production_version(three, lead):
    kind, (_, v2, v3) = three
    for blank in ("", "  "):
        with pytest.raises(ConcordError) as refused:
            rollback(v3, actor=lead, reason=blank)
        assert refused.value.status == 400 and refused.value.problems[0]["field"] == "reason"
    with pytest.raises(ConcordError) as refused:
        rollback(v2, actor=lead, reason=REASON)
    assert refused.value.status == 409 and "not in production" in refused.value.detail
    assert stages(kind) == {1: "archived", 2: "archived", 3: "production"}


def test_a_first_production_version_has_nothing_to_roll_back_to(dataset, lead):
    only = reward_version(dataset, lead, version=1)
    promote_model_version(only, "production", actor=lead)
    with pytest.raises(ConcordError) as refused:
        rollback(only, actor=lead, reason=REASON)
    assert refused.value.status == 409


def test_only_leads_of_the_dataset_roll_back(three, lead, annotator, reviewer, make_user):
    kind, (_, _, v3) = three
    for user, status in ((annotator, 403), (reviewer, 403), (make_user("stranger"), 404)):
        with pytest.raises(ConcordError) as refused:
            rollback(v3, actor=user, reason=REASON)
        assert refused.value.status == status
    assert stages(kind) == {1: "archived", 2: "archived", 3: "production"}


def test_promoting_a_reward_model_checks_the_lead_role_in_the_service(
    dataset, lead, sprint, make_user
):
    """Whatever the door, the service refuses a reward-model promotion by someone who does not
    lead the dataset: 403 for a member of its sprint, 404 for an outsider; nothing changes."""
    from annotation.models import SprintMember, SprintRole

    version = reward_version(dataset, lead, version=1)
    reviewer, outsider = make_user("a-reviewer"), make_user("an-outsider")
    SprintMember.objects.create(sprint=sprint, user=reviewer, role=SprintRole.REVIEWER)
    for user, status in ((reviewer, 403), (outsider, 404)):
        with pytest.raises(ConcordError) as refused:
            promote_model_version(version, "production", actor=user)
        assert refused.value.status == status
    version.refresh_from_db()
    assert version.stage == "candidate" and not RegistryEvent.objects.exists()


def test_rollback_refuses_a_target_of_another_teams_dataset(dataset, lead, make_user, other_sprint):
    """A name is not a team's own: when the version before production is of a dataset the
    caller does not lead (the operator replaced it), rollback refuses (409) and changes
    nothing."""
    from annotation.models import SprintMember, SprintRole
    from training.services.policy_gate import promote_policy
    from training.services.stages import change_stage

    lead_b = make_user("lead-b")
    SprintMember.objects.create(sprint=other_sprint, user=lead_b, role=SprintRole.LEAD)
    theirs = policy_version(export_of(other_sprint, lead_b), lead_b)
    promote_policy(theirs, actor=lead_b)
    ours = policy_version(dataset, lead)
    change_stage(ours, "production", actor=None)
    events = RegistryEvent.objects.count()
    with pytest.raises(ConcordError) as refused:
        rollback(ours, actor=lead, reason=REASON)
    assert refused.value.status == 409 and "do not lead" in refused.value.detail
    assert stages("policy") == {1: "archived", 2: "production"}
    assert RegistryEvent.objects.count() == events
