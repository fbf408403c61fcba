"""Promotion of a policy through the gate (the service every door calls): the first production
version needs no evaluation; later ones need a done evaluation against production whose
verdict allows, or a lead's written override (audited, kept on the event); refusals change
nothing; only leads of the policy's dataset promote."""

import pytest

from annotation.models import AuditEvent
from annotation.services.errors import ConcordError
from tests.policies.gate_fixtures import candidate_and_production, evaluated
from tests.support.builders import export_of, policy_version
from training.models import ModelStage, PolicyEvaluation, PolicyVersion, RegistryEvent
from training.services.policy_gate import promote_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(lead, sprint):
    return export_of(sprint, lead)


@pytest.fixture
def pair(dataset, lead):
    return candidate_and_production(dataset, lead)


def stages() -> dict[int, str]:
    return dict(PolicyVersion.objects.values_list("version", "stage"))


def test_the_first_production_version_needs_no_evaluation(dataset, lead):
    policy = policy_version(dataset, lead)
    promote_policy(policy, actor=lead)
    policy.refresh_from_db()
    assert policy.stage == ModelStage.PRODUCTION and policy.promoted_by == lead
    event = RegistryEvent.objects.get()
    assert (event.registry, event.event, event.version_id, event.previous_id) == (
        "policy", "promoted", policy.pk, None)  # fmt: skip
    assert event.evidence == {"first_production": True} and event.override is False
    audit = AuditEvent.objects.get(action="policy_version.promoted")
    assert audit.object_id == str(policy.pk) and audit.actor == lead


def test_without_an_evaluation_the_gate_refuses_and_nothing_changes(pair, lead):
    candidate, _ = pair
    events = RegistryEvent.objects.count()
    with pytest.raises(ConcordError) as refused:
        promote_policy(candidate, actor=lead)
    assert refused.value.status == 409
    assert "No done evaluation" in refused.value.detail
    assert stages() == {1: "production", 2: "candidate"}
    assert RegistryEvent.objects.count() == events


def test_a_clear_win_promotes_and_archives_production(pair, lead):
    candidate, production = pair
    evaluation = evaluated(candidate, production, lead, wins=30, losses=4, ties=2)
    promote_policy(candidate, actor=lead)  # the newest done evaluation against production
    assert stages() == {1: "archived", 2: "production"}
    promoted = RegistryEvent.objects.get(event="promoted", version_id=candidate.pk)
    assert promoted.previous_id == production.pk and promoted.override is False
    assert promoted.evidence["allowed"] is True
    assert promoted.evidence["evaluation"] == evaluation.pk
    assert promoted.evidence["human"]["n"] == 36
    archived = RegistryEvent.objects.get(event="archived")
    assert archived.version_id == production.pk
    assert archived.evidence == {"replaced_by": candidate.pk}
    assert AuditEvent.objects.filter(action="policy_version.archived").count() == 1


def test_an_older_allowing_evaluation_cannot_outvote_a_newer_refusing_one(pair, lead):
    """The gate reads the newest done evaluation of the two versions: naming an older one that
    went the lead's way is refused, and nothing changes."""
    candidate, production = pair
    older = evaluated(candidate, production, lead, wins=30, losses=4, ties=2)
    newer = evaluated(candidate, production, lead, wins=10, losses=20, ties=0)
    with pytest.raises(ConcordError) as refused:
        promote_policy(candidate, actor=lead, evaluation=older)
    assert refused.value.status == 409
    assert f"Evaluation {newer.pk}" in refused.value.detail and "newest" in refused.value.detail
    assert stages() == {1: "production", 2: "candidate"}


def test_a_refusal_is_overridden_only_with_a_written_reason(pair, lead):
    candidate, production = pair
    evaluation = evaluated(candidate, production, lead, wins=12, losses=3)
    for blank in ("", "   "):
        with pytest.raises(ConcordError) as refused:
            promote_policy(candidate, actor=lead, evaluation=evaluation, override_reason=blank)
        assert refused.value.status == 409
        assert "15 human comparison(s)" in refused.value.detail
        assert {"field": "override_reason"}.items() <= refused.value.problems[-1].items()
    assert stages() == {1: "production", 2: "candidate"}

    promote_policy(candidate, actor=lead, evaluation=evaluation,
                   override_reason="  Legal needs the new refusal wording today.  ")  # fmt: skip
    assert stages() == {1: "archived", 2: "production"}
    event = RegistryEvent.objects.get(event="promoted", version_id=candidate.pk)
    assert event.override is True and event.actor == lead
    assert event.reason == "Legal needs the new refusal wording today."
    assert event.evidence["allowed"] is False and event.evidence["human"]["n"] == 15
    audit = AuditEvent.objects.get(action="policy_version.promoted", object_id=str(candidate.pk))
    assert audit.changes["override"] is True
    assert audit.changes["reason"] == "Legal needs the new refusal wording today."
    assert event.payload()["override"] is True


def test_an_evaluation_of_another_policy_or_an_old_baseline_does_not_count(pair, dataset, lead):
    candidate, production = pair
    other = policy_version(dataset, lead)
    foreign = evaluated(other, production, lead, wins=40)
    with pytest.raises(ConcordError) as refused:
        promote_policy(candidate, actor=lead, evaluation=foreign)
    assert refused.value.status == 400 and refused.value.problems[0]["field"] == "evaluation"
    against_old = evaluated(candidate, other, lead, wins=40)
    with pytest.raises(ConcordError) as refused:
        promote_policy(candidate, actor=lead, evaluation=against_old)
    assert refused.value.status == 409
    assert stages() == {1: "production", 2: "candidate", 3: "candidate"}


def test_an_evaluation_against_an_earlier_production_is_refused(pair, dataset, lead):
    candidate, production = pair
    stale = evaluated(candidate, production, lead, wins=40)
    newer = policy_version(dataset, lead)
    promote_policy(newer, actor=lead, override_reason="the hotfix ships first")
    stale = PolicyEvaluation.objects.get(pk=stale.pk)  # as a door loads it
    with pytest.raises(ConcordError) as refused:
        promote_policy(candidate, actor=lead, evaluation=stale)
    assert refused.value.status == 409 and "no longer in production" in refused.value.detail
    with pytest.raises(ConcordError) as refused:
        promote_policy(candidate, actor=lead)  # by default, only evaluations against v3 count
    assert refused.value.status == 409 and "No done evaluation" in refused.value.detail
    assert stages() == {1: "archived", 2: "candidate", 3: "production"}


def test_archiving_production_does_not_open_the_gate(pair, lead):
    """Only a name that never had a production version is promoted without evidence: archiving
    production first and then promoting is refused without a written reason."""
    candidate, production = pair
    promote_policy(production, actor=lead, stage="archived")
    events = RegistryEvent.objects.count()
    with pytest.raises(ConcordError) as refused:
        promote_policy(candidate, actor=lead)
    assert refused.value.status == 409 and "no production version to compare" in (
        refused.value.detail)  # fmt: skip
    assert stages() == {1: "archived", 2: "candidate"}
    assert RegistryEvent.objects.count() == events
    promote_policy(candidate, actor=lead, override_reason="v1 was pulled; v2 replaces it.")
    event = RegistryEvent.objects.get(event="promoted", version_id=candidate.pk)
    assert event.override is True and event.previous_id is None
    assert "first_production" not in event.evidence
    assert stages() == {1: "archived", 2: "production"}


def test_a_lead_cannot_archive_another_teams_production_of_the_same_name(
    pair, lead, make_user, other_sprint
):
    """A name is not a team's own: another team's version of it may not replace (archive) this
    team's production version, even with an override reason."""
    from annotation.models import SprintMember, SprintRole

    lead_b = make_user("lead-b")
    SprintMember.objects.create(sprint=other_sprint, user=lead_b, role=SprintRole.LEAD)
    theirs = policy_version(export_of(other_sprint, lead_b), lead_b)
    events = RegistryEvent.objects.count()
    with pytest.raises(ConcordError) as refused:
        promote_policy(theirs, actor=lead_b, override_reason="ours now")
    assert refused.value.status == 409 and "do not lead" in refused.value.detail
    assert stages() == {1: "production", 2: "candidate", 3: "candidate"}
    assert RegistryEvent.objects.count() == events


def test_other_stage_moves_are_plain(pair, lead):
    candidate, production = pair
    promote_policy(candidate, actor=lead, stage="archived")
    promote_policy(production, actor=lead, stage="candidate")
    assert stages() == {1: "candidate", 2: "archived"}
    assert list(RegistryEvent.objects.order_by("pk").values_list("event", flat=True)) == [
        "promoted", "archived", "demoted"]  # fmt: skip
    # Archiving a candidate while production is there replaced nothing: no previous version.
    assert RegistryEvent.objects.get(event="archived").previous_id is None


def test_only_leads_of_the_dataset_promote(pair, lead, annotator, reviewer, make_user):
    candidate, production = pair
    evaluation = evaluated(candidate, production, lead, wins=40)
    for user, status in ((annotator, 403), (reviewer, 403), (make_user("stranger"), 404)):
        with pytest.raises(ConcordError) as refused:
            promote_policy(candidate, actor=user, evaluation=evaluation)
        assert refused.value.status == status
    with pytest.raises(ConcordError):
        promote_policy(candidate, actor=None, evaluation=evaluation)
    assert stages() == {1: "production", 2: "candidate"}
