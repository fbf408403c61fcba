"""A member a lead removed from a sprint can no longer write through their old assignments.

As found: after the lead deleted the membership, the removed annotator's token still submitted
judgments (201, live rows feeding consensus and exports), revised them, flagged and skipped.
Now the service doors (submit, revise, skip, flag) look the assignment up together with the
membership, so a removed member gets exactly the answer given for someone else's assignment
(404, which tells nothing) and nothing is stored. A membership in another sprint does not help.
"""

import pytest

from annotation.models import Assignment, AuditEvent, ItemFlag, Judgment, SprintMember, SprintRole
from tests.annotation.labeling_fixtures import add_items, good_answers, join

pytestmark = pytest.mark.django_db


@pytest.fixture
def labeling(sprint, other_sprint, annotator, make_user, api_client_for):
    """The annotator holds a lease in sprint A and is also a member of sprint B; a second
    annotator of A holds a lease of their own."""
    add_items(sprint, 3)
    join(other_sprint, annotator)
    (colleague,) = join(sprint, make_user("ann2"))
    client, colleagues_client = api_client_for(annotator), api_client_for(colleague)
    mine = client.get(f"/api/v1/sprints/{sprint.pk}/next").json()["assignment"]
    theirs = colleagues_client.get(f"/api/v1/sprints/{sprint.pk}/next").json()["assignment"]
    return {"client": client, "mine": mine, "theirs": theirs}


def remove(user, sprint) -> None:
    """What the lead's delete of the membership does (the admin's delete view ends here)."""
    SprintMember.objects.filter(sprint=sprint, user=user).delete()


def submit(client, assignment: int, key: str):
    body = {"assignment": assignment, "answers": good_answers(), "seconds": 3}
    return client.post("/api/v1/judgments", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def skip(client, assignment: int):
    return client.post(
        f"/api/v1/assignments/{assignment}/skip", {"reason": "not my topic"}, format="json"
    )


def flag(client, assignment: int):
    return client.post(
        f"/api/v1/assignments/{assignment}/flag", {"reason": "cut off"}, format="json"
    )


def test_a_removed_member_cannot_submit(sprint, annotator, labeling):
    client, mine, theirs = labeling["client"], labeling["mine"], labeling["theirs"]
    not_mine = submit(client, theirs, "k-theirs")
    remove(annotator, sprint)

    response = submit(client, mine, "k-after-removal")  # was 201

    assert response.status_code == 404
    assert response.json() == not_mine.json(), "the same answer as for someone else's"
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=mine).status == "leased"


def test_a_removed_member_cannot_revise(sprint, annotator, labeling):
    client, mine = labeling["client"], labeling["mine"]
    assert submit(client, mine, "k-first").status_code == 201
    remove(annotator, sprint)

    response = submit(client, mine, "k-revision")  # was 201, a live revision

    assert response.status_code == 404
    assert response.json()["errors"] == [
        {"field": "assignment", "message": "no such assignment of yours"}
    ]
    assert Judgment.objects.count() == 1
    assert not AuditEvent.objects.filter(action="judgment.revised").exists()


def test_a_removed_member_cannot_skip(sprint, annotator, labeling):
    client, mine = labeling["client"], labeling["mine"]
    not_mine = skip(client, labeling["theirs"])
    remove(annotator, sprint)

    response = skip(client, mine)

    assert response.status_code == 404 and response.json() == not_mine.json()
    assignment = Assignment.objects.get(pk=mine)
    assert (assignment.status, assignment.skip_reason) == ("leased", "")


def test_a_removed_member_cannot_flag(sprint, annotator, labeling):
    client, mine = labeling["client"], labeling["mine"]
    not_mine = flag(client, labeling["theirs"])
    remove(annotator, sprint)

    response = flag(client, mine)  # was 201

    assert response.status_code == 404 and response.json() == not_mine.json()
    assert not ItemFlag.objects.exists()
    assert not AuditEvent.objects.filter(action="item.flagged").exists()


def test_a_flag_stored_before_removal_is_not_handed_back_after_it(sprint, annotator, labeling):
    client, mine = labeling["client"], labeling["mine"]
    assert flag(client, mine).status_code == 201
    remove(annotator, sprint)
    assert flag(client, mine).status_code == 404
    assert ItemFlag.objects.count() == 1


def test_any_role_may_still_label_and_a_member_added_back_may_again(sprint, annotator, labeling):
    client, mine = labeling["client"], labeling["mine"]
    SprintMember.objects.filter(sprint=sprint, user=annotator).update(role=SprintRole.REVIEWER)
    assert submit(client, mine, "k-as-reviewer").status_code == 201
    remove(annotator, sprint)
    assert submit(client, mine, "k-removed").status_code == 404
    join(sprint, annotator)
    assert submit(client, mine, "k-back").status_code == 201
    assert Judgment.objects.filter(annotator=annotator).count() == 2
