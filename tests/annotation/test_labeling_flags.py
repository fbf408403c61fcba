"""Flagging an item through the API: POST /api/v1/assignments/{id}/flag {"reason"}.

A flag is a report for reviewers, not an answer: the assignment stays as it was, and the
annotator can still answer or skip the item. Only the caller's own leased or submitted
assignment can be flagged; anyone else's is 404, and bad reasons are a 400 naming the field,
with nothing stored."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, AuditEvent, ItemFlag, Judgment
from tests.annotation.labeling_fixtures import add_items, good_answers, join

pytestmark = pytest.mark.django_db


@pytest.fixture
def clients(sprint, annotator, make_user, api_client_for):
    add_items(sprint, 3)
    (other,) = join(sprint, make_user("ann2"))
    return api_client_for(annotator), api_client_for(other)


def lease(client, sprint) -> dict:
    response = client.get(f"/api/v1/sprints/{sprint.pk}/next")
    assert response.status_code == 200
    return response.json()


def flag(client, assignment, body=None, **kwargs):
    body = {"reason": "the responses are cut off"} if body is None else body
    return client.post(f"/api/v1/assignments/{assignment}/flag", body, format="json", **kwargs)


def test_flag_is_stored_with_an_audit_event_and_leaves_the_lease_alone(sprint, annotator, clients):
    client, _ = clients
    served = lease(client, sprint)
    response = flag(client, served["assignment"], {"reason": "  the responses are cut off "})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "item", "reason", "created_at"}
    assert body["item"] == served["item"]["id"]
    assert body["reason"] == "the responses are cut off"
    stored = ItemFlag.objects.get()
    assert (stored.pk, stored.item_id, stored.annotator, stored.sprint) == (
        body["id"],
        served["item"]["id"],
        annotator,
        sprint,
    )
    event = AuditEvent.objects.get(action="item.flagged")
    assert event.actor == annotator and event.object_id == str(stored.pk)
    assert event.sprint == sprint
    assert event.changes == {"assignment": served["assignment"], "reason": body["reason"]}
    # Neither an answer nor the end of the assignment: the same item is still mine to answer.
    assert Assignment.objects.get(pk=served["assignment"]).status == "leased"
    assert not Judgment.objects.exists()
    assert lease(client, sprint)["assignment"] == served["assignment"]
    submitted = client.post(
        "/api/v1/judgments",
        {"assignment": served["assignment"], "answers": good_answers(), "seconds": 3},
        format="json",
        HTTP_IDEMPOTENCY_KEY="after-flag",
    )
    assert submitted.status_code == 201


def test_flagging_twice_returns_the_first_flag_and_stores_nothing(sprint, clients):
    client, _ = clients
    assignment = lease(client, sprint)["assignment"]
    first = flag(client, assignment)
    again = flag(client, assignment, {"reason": "another reason"})
    assert again.status_code == 200
    assert again.json() == first.json()
    assert ItemFlag.objects.count() == 1
    assert ItemFlag.objects.get().reason == "the responses are cut off"
    assert AuditEvent.objects.filter(action="item.flagged").count() == 1


def test_a_submitted_item_can_be_flagged_and_a_retry_after_a_skip_gets_its_flag(sprint, clients):
    client, _ = clients
    first = lease(client, sprint)["assignment"]
    client.post(
        "/api/v1/judgments",
        {"assignment": first, "answers": good_answers()},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert flag(client, first).status_code == 201
    second = lease(client, sprint)["assignment"]
    flagged = flag(client, second, {"reason": "unsafe prompt"})
    assert flagged.status_code == 201
    client.post(f"/api/v1/assignments/{second}/skip", {"reason": "unsafe"}, format="json")
    retry = flag(client, second, {"reason": "unsafe prompt"})
    assert retry.status_code == 200 and retry.json() == flagged.json()
    assert ItemFlag.objects.count() == 2


def test_a_skipped_or_lapsed_assignment_and_a_closed_sprint_are_refused(sprint, clients):
    client, _ = clients
    skipped = lease(client, sprint)["assignment"]
    client.post(f"/api/v1/assignments/{skipped}/skip", {"reason": "no"}, format="json")
    refused = flag(client, skipped)
    assert refused.status_code == 400
    assert "skipped" in refused.json()["errors"][0]["message"]
    lapsed = lease(client, sprint)["assignment"]
    past = timezone.now() - timedelta(minutes=1)
    Assignment.objects.filter(pk=lapsed).update(
        leased_at=past - timedelta(hours=1), lease_expires_at=past
    )
    assert "expired" in flag(client, lapsed).json()["errors"][0]["message"]
    live = lease(client, sprint)["assignment"]
    sprint.status = "closed"
    sprint.save()
    assert flag(client, live).status_code == 400
    assert not ItemFlag.objects.exists()


BAD_REASONS = {
    "missing": {},
    "empty": {"reason": ""},
    "blank": {"reason": "   "},
    "too long": {"reason": "x" * 501},
    "not text": {"reason": 42},
    "null": {"reason": None},
}


@pytest.mark.parametrize("case", list(BAD_REASONS))
def test_a_bad_reason_is_a_400_naming_the_field(case, sprint, clients):
    client, _ = clients
    assignment = lease(client, sprint)["assignment"]
    response = flag(client, assignment, BAD_REASONS[case])
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "reason"
    assert not ItemFlag.objects.exists()
    assert not AuditEvent.objects.filter(action="item.flagged").exists()


def test_a_body_that_is_not_an_object_is_a_400(sprint, clients):
    client, _ = clients
    assignment = lease(client, sprint)["assignment"]
    response = flag(client, assignment, ["the responses are cut off"])
    assert response.status_code == 400
    assert not ItemFlag.objects.exists()


def test_the_longest_reason_is_kept_whole(sprint, clients):
    client, _ = clients
    assignment = lease(client, sprint)["assignment"]
    assert flag(client, assignment, {"reason": "y" * 500}).status_code == 201
    assert ItemFlag.objects.get().reason == "y" * 500


# --- permissions -------------------------------------------------------------------------


def test_someone_elses_assignment_is_404_and_unknown_ids_too(sprint, clients):
    mine, theirs = clients
    their_assignment = lease(theirs, sprint)["assignment"]
    assert flag(mine, their_assignment).status_code == 404
    assert flag(mine, 999_999).status_code == 404
    assert not ItemFlag.objects.exists()
    assert flag(theirs, their_assignment).status_code == 201


def test_an_annotator_of_another_sprint_cannot_flag_its_items(
    sprint, other_sprint, clients, make_user, api_client_for
):
    _, theirs = clients
    add_items(other_sprint, 1, prefix="o")
    (outsider,) = join(other_sprint, make_user("outsider"))
    other_assignment = lease(api_client_for(outsider), other_sprint)["assignment"]
    sprint_a_assignment = lease(theirs, sprint)["assignment"]
    assert flag(theirs, other_assignment).status_code == 404
    assert flag(api_client_for(outsider), sprint_a_assignment).status_code == 404
    assert not ItemFlag.objects.exists()


def test_anonymous_gets_401(sprint, clients, api_client_for):
    client, _ = clients
    assignment = lease(client, sprint)["assignment"]
    assert flag(api_client_for(None), assignment).status_code == 401
    assert not ItemFlag.objects.exists()


def test_flagging_a_gold_item_tells_nothing_of_its_answer(sprint, annotator, api_client_for):
    add_items(sprint, 0, gold=1, prefix="g")
    sprint.gold_rate = 1.0
    sprint.save()
    client = api_client_for(annotator)
    assignment = lease(client, sprint)["assignment"]
    response = flag(client, assignment)
    assert response.status_code == 201
    assert "ranking" not in response.content.decode()
    assert "gold" not in response.content.decode()
