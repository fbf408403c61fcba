"""Leads bring new people in by invitation: a one-time, expiring link, stored only as a hash,
with which the person chooses their own password. Nobody else ever sets it."""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotation.models import AuditEvent, Invitation, SprintMember, SprintRole
from annotation.services.accounts import invite_member
from annotation.services.errors import ConcordError

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "a-Chosen-pass-phrase-58"


def invite_url(sprint) -> str:
    return reverse("admin:annotation_sprint_invite", args=[sprint.pk])


def invite(client, sprint, username="newbie", **extra):
    data = {"username": username, "email": f"{username}@example.test", "role": "annotator"}
    return client.post(invite_url(sprint), {**data, **extra})


@pytest.fixture
def link(lead_client, sprint) -> str:
    response = invite(lead_client, sprint)
    assert response.status_code == 200
    return response.context["link"]


def accept(link: str, password: str = PASSWORD, again: str | None = None):
    client = Client()
    data = {"new_password1": password, "new_password2": again or password}
    return client, client.post(link, data)


def test_lead_invites_into_their_sprint(lead_client, sprint, staff_lead):
    page = lead_client.get(reverse("admin:annotation_sprint_change", args=[sprint.pk]))
    assert invite_url(sprint) in page.text
    response = invite(lead_client, sprint, role="reviewer")
    assert response.status_code == 200
    link = response.context["link"]
    assert link in response.text and link.startswith("http://testserver/invitations/")
    user = User.objects.get(username="newbie")
    assert not user.is_active and not user.has_usable_password()
    assert not user.is_staff and not user.is_superuser
    assert SprintMember.objects.get(sprint=sprint, user=user).role == SprintRole.REVIEWER
    token = link.rsplit("/", 1)[1]
    invitation = Invitation.objects.get(user=user)
    assert invitation.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    expected = timezone.now() + timedelta(hours=72)
    assert abs((invitation.expires_at - expected).total_seconds()) < 60
    event = AuditEvent.objects.get(action="member.invited")
    assert event.actor == staff_lead and event.sprint == sprint
    assert token not in str(event.changes)
    # Shown once: the link appears nowhere afterwards.
    assert token not in lead_client.get(invite_url(sprint)).text


def test_the_invited_person_chooses_a_password_and_is_logged_in(link, sprint):
    page = Client().get(link)
    assert page.status_code == 200 and "newbie" in page.text and sprint.name in page.text
    client, response = accept(link)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get(reverse("home")).context["user"].username == "newbie"
    user = User.objects.get(username="newbie")
    assert user.is_active and user.check_password(PASSWORD)
    assert Invitation.objects.get(user=user).accepted_at is not None
    assert AuditEvent.objects.filter(action="invitation.accepted", actor=user).exists()


@pytest.mark.parametrize("password, again", [("short", None), (PASSWORD, PASSWORD + "x")])
def test_a_refused_password_changes_nothing(link, password, again):
    _, response = accept(link, password, again)
    assert response.status_code == 200 and response.context["form"].errors
    user = User.objects.get(username="newbie")
    assert not user.is_active and not user.has_usable_password()
    assert accept(link)[1].status_code == 302  # the link still works


def test_a_used_link_is_refused(link):
    assert accept(link)[1].status_code == 302
    for response in (Client().get(link), accept(link, "another-Long-phrase-1")[1]):
        assert response.status_code == 410
        assert "used already" in response.text
    assert User.objects.get(username="newbie").check_password(PASSWORD)


def test_an_expired_link_is_refused(link, settings):
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    for response in (Client().get(link), accept(link)[1]):
        assert response.status_code == 410
        assert "expired" in response.text
    assert not User.objects.get(username="newbie").is_active


def test_removing_the_membership_withdraws_the_invitation(link, sprint):
    SprintMember.objects.filter(sprint=sprint, user__username="newbie").delete()
    for response in (Client().get(link), accept(link)[1]):
        assert response.status_code == 410
        assert "withdrawn" in response.text
    assert not User.objects.get(username="newbie").is_active


def test_an_unknown_link_is_refused(client):
    response = client.get(reverse("invitation-accept", args=["not-a-token"]))
    assert response.status_code == 410 and "not valid" in response.text


def test_expiry_comes_from_the_setting(lead_client, sprint, settings):
    settings.CONCORD_INVITATION_HOURS = 2
    invite(lead_client, sprint)
    invitation = Invitation.objects.get()
    expected = timezone.now() + timedelta(hours=2)
    assert abs((invitation.expires_at - expected).total_seconds()) < 60


def test_inviting_again_replaces_the_link(lead_client, sprint, link):
    second = invite(lead_client, sprint).context["link"]
    assert second != link
    assert Client().get(link).status_code == 410
    assert accept(second)[1].status_code == 302
    assert SprintMember.objects.filter(user__username="newbie").count() == 1


def test_an_existing_account_is_never_invited(lead_client, sprint, annotator, make_user):
    other = make_user("rev-b")
    for user in (annotator, other):
        response = invite(lead_client, sprint, user.username)
        assert response.status_code == 200 and response.context["link"] is None
        assert "is taken" in response.text
        user.refresh_from_db()
        assert user.check_password(f"pw-{user.username}") and user.is_active
        assert not Invitation.objects.filter(user=user).exists()
    assert not SprintMember.objects.filter(sprint=sprint, user=other).exists()


def test_an_accepted_account_cannot_be_reinvited(lead_client, sprint, link):
    accept(link)
    response = invite(lead_client, sprint)
    assert response.context["link"] is None and "is taken" in response.text


def test_another_team_pending_invitee_is_not_reinvited(client, lead_b, other_sprint, link):
    client.force_login(lead_b)
    response = invite(client, other_sprint)
    assert response.context["link"] is None
    assert Client().get(link).status_code == 200  # the first link still works


def test_a_lead_cannot_invite_into_another_team_sprint(client, lead_b, sprint):
    client.force_login(lead_b)
    response = invite(client, sprint)
    assert response.status_code in (302, 403, 404)
    assert not User.objects.filter(username="newbie").exists()


def test_the_service_checks_the_role(sprint, annotator, lead_b):
    for actor in (annotator, lead_b):
        with pytest.raises(ConcordError) as refused:
            invite_member(actor, sprint, username="newbie")
        assert refused.value.status == 403
    assert not User.objects.filter(username="newbie").exists()


def test_bad_usernames_name_the_field(lead_client, sprint):
    response = invite(lead_client, sprint, "no spaces allowed!", email="")
    assert "username" in response.context["form"].errors
    with pytest.raises(ConcordError) as refused:
        invite_member(sprint.memberships.get(role="lead").user, sprint, username="a b")
    assert refused.value.problems[0]["field"] == "username"


def test_a_look_alike_of_a_taken_username_is_taken(lead_client, sprint, annotator):
    """Found in review: a full-width spelling passed the lookup, then create_user normalised
    it onto the taken name and the unique index answered a 500."""
    full_width = "".join(chr(ord(c) + 0xFEE0) if "a" <= c <= "z" else c for c in annotator.username)
    response = invite(lead_client, sprint, full_width, email="")
    assert response.status_code == 200 and response.context["link"] is None
    assert "is taken" in response.text


def test_a_promoted_pending_invitee_is_never_reinvited(lead_client, sprint, link):
    """Found in review: once a superuser made a still-pending invitee staff, a lead could
    issue a fresh link and claim the staff account."""
    User.objects.filter(username="newbie").update(is_staff=True)
    response = invite(lead_client, sprint)
    assert response.context["link"] is None and "is taken" in response.text
