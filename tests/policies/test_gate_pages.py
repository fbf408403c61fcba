"""The policy pages: the list by name, and one page with the evaluation's evidence, the verdict
and its reasons, the promote form (an override reason when the gate refuses), the rollback
form in production and the name's history; refusals re-render with the problem; only leads
of the policy's dataset see and act (403 for a member who does not lead, 404 for others)."""

import pytest
from django.test import Client

from annotation.models import SprintMember, SprintRole
from tests.policies.gate_fixtures import candidate_and_production, evaluated
from tests.support.builders import export_of, policy_version
from training.models import PolicyVersion, RegistryEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(lead, sprint):
    return candidate_and_production(export_of(sprint, lead), lead)


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client, policy, **query):
    return client.get(f"/training/policies/{policy.pk}", query)


def stages() -> dict[int, str]:
    return dict(PolicyVersion.objects.values_list("version", "stage"))


def test_the_list_shows_the_led_policies_by_name(pair, lead):
    text = browser(lead).get("/training/policies").content.decode()
    assert "support-policy@v2" in text and "support-policy@v1" in text
    assert "stage-production" in text


def test_the_evidence_page_and_an_override(pair, lead):
    candidate, production = pair
    evaluation = evaluated(candidate, production, lead, wins=14, losses=2)
    client = browser(lead)
    text = page(client, candidate).content.decode()
    shown = [
        "The gate refuses promotion.",
        "16 human comparison(s); the rule needs at least 30.",
        "0.875",
        "Reward model (automatic first look)",
        "0.700",
        "0.550 \u2013 0.830",
        f"/sprints/{evaluation.sprint_id}/leaderboard",
        'name="override_reason"',
        "sprint-a",
        "at least 30 human comparisons",
    ]
    assert [part for part in shown if part not in text] == []

    url = f"/training/policies/{candidate.pk}"
    body = {"action": "promote", "evaluation": evaluation.pk, "override_reason": " "}
    blank = client.post(url, body)
    assert blank.status_code == 409 and "override_reason" in blank.content.decode()
    assert stages() == {1: "production", 2: "candidate"}

    done = client.post(url, {**body, "override_reason": "Ship the fix."})
    assert done.status_code == 302
    assert stages() == {1: "archived", 2: "production"}
    after = page(client, candidate).content.decode()
    assert "Ship the fix." in after and "override" in after
    assert "Roll back to support-policy@v1" in after and 'name="override_reason"' not in after


def test_an_allowed_gate_needs_no_reason_and_rollback_needs_one(pair, lead):
    candidate, production = pair
    evaluated(candidate, production, lead, wins=30, losses=3)
    client = browser(lead)
    text = page(client, candidate).content.decode()
    assert "The gate allows promotion." in text and 'name="override_reason"' not in text
    url = f"/training/policies/{candidate.pk}"
    assert client.post(url, {"action": "promote"}).status_code == 302
    # Now in production, its page says so instead of judging it against an archived baseline.
    promoted = page(client, candidate).content.decode()
    assert "is in production." in promoted and "The gate refuses promotion." not in promoted
    refused = client.post(url, {"action": "rollback", "reason": ""})
    assert refused.status_code == 400 and "reason" in refused.content.decode()
    assert client.post(url, {"action": "rollback", "reason": "Too chatty."}).status_code == 302
    assert stages() == {1: "production", 2: "archived"}
    history = page(client, production).content.decode()
    assert "rolled_back" in history and "Too chatty." in history
    rolled_back = history.split('<tr data-event="rolled_back">')[1].split("</tr>")[0]
    # The version production left is named as the registry names it, not by its row id.
    assert "<td>v1</td>\n      <td>v2</td>" in rolled_back


def test_a_first_production_version_is_promoted_without_evidence(lead, sprint):
    policy = policy_version(export_of(sprint, lead), lead)
    client = browser(lead)
    assert "needs no evaluation" in page(client, policy).content.decode()
    response = client.post(f"/training/policies/{policy.pk}", {"action": "promote"})
    assert response.status_code == 302 and stages() == {1: "production"}


def test_after_production_is_archived_the_page_asks_for_a_reason(pair, lead):
    from training.services.policy_gate import promote_policy

    candidate, production = pair
    promote_policy(production, actor=lead, stage="archived")
    client = browser(lead)
    text = page(client, candidate).content.decode()
    assert "needs no evaluation" not in text and 'name="override_reason"' in text
    assert "is in production now, but one was" in text
    url = f"/training/policies/{candidate.pk}"
    assert client.post(url, {"action": "promote"}).status_code == 409
    assert stages() == {1: "archived", 2: "candidate"}
    for odd in ("\u00b2", "x1"):  # a superscript two is a digit to str.isdigit, not to int()
        assert page(client, candidate, evaluation=odd).status_code == 404


def test_who_may(pair, lead, annotator, reviewer, make_user, other_sprint):
    candidate, production = pair
    lead_b = make_user("lead-b")
    SprintMember.objects.create(sprint=other_sprint, user=lead_b, role=SprintRole.LEAD)
    events = RegistryEvent.objects.count()
    for user, status in ((annotator, 403), (reviewer, 403), (lead_b, 404)):
        client = browser(user)
        assert page(client, candidate).status_code == status
        body = {"action": "promote", "override_reason": "mine now"}
        assert client.post(f"/training/policies/{candidate.pk}", body).status_code == status
        back = {"action": "rollback", "reason": "mine now"}
        assert client.post(f"/training/policies/{production.pk}", back).status_code == status
    assert browser(annotator).get("/training/policies").status_code == 403
    assert "support-policy" not in browser(lead_b).get("/training/policies").content.decode()
    assert stages() == {1: "production", 2: "candidate"}
    assert RegistryEvent.objects.count() == events


def test_a_failed_evaluation_shows_why_it_failed(pair, lead):
    candidate, production = pair
    evaluation = evaluated(candidate, production, lead, wins=0, status="failed")
    evaluation.error = "Both policies gave the same response to every prompt."
    evaluation.save(update_fields=["error"])
    text = page(browser(lead), candidate).content.decode()
    assert f"Evaluation {evaluation.pk} is failed, not done." in text
    assert "Why it failed: Both policies gave the same response to every prompt." in text


def test_the_win_rate_chart_spans_zero_to_one_even_for_a_clean_sweep(pair, lead):
    candidate, production = pair
    evaluated(candidate, production, lead, wins=3)  # win rate 1, interval [1, 1]
    chart = page(browser(lead), candidate).context["chart"]
    assert [tick.label for tick in chart.x_ticks] == ["0", "0.2", "0.4", "0.6", "0.8", "1"]
