"""API tokens die with the password, the active flag or the last membership that earned them.

Found in issue 13: a token survived a password change, so whoever had copied it kept the
account's API after the owner changed the password. Each test goes through a real door and
then calls the API with the old token.
"""

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation.models import AuditEvent, SprintMember, SprintRole
from tests.annotation.test_admin_sprints import sprint_form

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-Fresh-pass-phrase-93"
PBKDF2_HASHER = "django.contrib.auth.hashers.PBKDF2PasswordHasher"


@pytest.fixture
def token_client(annotator, api_client_for):
    client = api_client_for(annotator)
    assert client.get(reverse("api-judgments")).status_code == 200
    return client


def assert_revoked(client, user, reason: str) -> None:
    assert client.get(reverse("api-judgments")).status_code == 401
    assert not Token.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="tokens.revoked", object_id=str(user.pk))
    assert event.changes == {"reason": reason, "tokens": 1}


def test_admin_password_form_revokes(superuser_client, annotator, token_client):
    url = reverse("admin:auth_user_password_change", args=[annotator.pk])
    response = superuser_client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert_revoked(token_client, annotator, "password changed")


def test_password_change_page_revokes(annotator, token_client):
    browser = Client()
    browser.force_login(annotator)
    data = {
        "old_password": "pw-ann1",
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    assert browser.post(reverse("password_change"), data).status_code == 302
    assert_revoked(token_client, annotator, "password changed")


def test_set_password_and_save_revokes(annotator, token_client):
    annotator.set_password(NEW_PASSWORD)
    annotator.save()
    assert_revoked(token_client, annotator, "password changed")


def test_a_new_token_after_the_change_works(annotator, token_client, api_client_for):
    annotator.set_password(NEW_PASSWORD)
    annotator.save()
    response = api_client_for(None).post(
        reverse("api-token"), {"username": "ann1", "password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    fresh = api_client_for(None)
    fresh.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert fresh.get(reverse("api-judgments")).status_code == 200


def test_rehashing_at_login_is_not_a_change(annotator, api_client_for, settings):
    # A hash from a hasher that is not the preferred one: the next login re-hashes it.
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, PBKDF2_HASHER]
    annotator.password = PBKDF2PasswordHasher().encode("pw-ann1", "somesalt", iterations=1000)
    annotator.save()
    client = api_client_for(annotator)
    response = api_client_for(None).post(
        reverse("api-token"), {"username": "ann1", "password": "pw-ann1"}, format="json"
    )
    assert response.status_code == 200
    annotator.refresh_from_db()
    assert annotator.password.startswith("md5$")  # it was re-hashed
    assert client.get(reverse("api-judgments")).status_code == 200


def test_deactivation_revokes_for_good(superuser_client, annotator, token_client):
    annotator.is_active = False
    annotator.save()
    annotator.is_active = True
    annotator.save()
    assert_revoked(token_client, annotator, "deactivated")


def test_admin_deactivation_revokes(superuser_client, annotator, token_client):
    url = reverse("admin:auth_user_change", args=[annotator.pk])
    page = superuser_client.get(url)
    data = {
        "username": annotator.username,
        "date_joined_0": page.context["adminform"].form.initial["date_joined"].strftime("%Y-%m-%d"),
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "",
        "initial-date_joined_1": "",
    }
    assert superuser_client.post(url, data).status_code == 302
    annotator.refresh_from_db()
    assert not annotator.is_active
    assert not Token.objects.filter(user=annotator).exists()


def test_removal_from_the_last_sprint_revokes(
    lead_client, sprint, staff_lead, annotator, token_client
):
    lead_member = SprintMember.objects.get(sprint=sprint, user=staff_lead)
    ann_member = SprintMember.objects.get(sprint=sprint, user=annotator)
    data = sprint_form(
        sprint, [(lead_member, staff_lead, "lead", ""), (ann_member, annotator, "annotator", "")]
    )
    data["memberships-1-DELETE"] = "on"
    url = reverse("admin:annotation_sprint_change", args=[sprint.pk])
    assert lead_client.post(url, data).status_code == 302
    assert not SprintMember.objects.filter(pk=ann_member.pk).exists()
    assert_revoked(token_client, annotator, "removed from the last sprint")


def test_removal_from_one_of_two_sprints_keeps_the_token(other_sprint, annotator, token_client):
    SprintMember.objects.create(sprint=other_sprint, user=annotator, role=SprintRole.ANNOTATOR)
    SprintMember.objects.get(sprint=other_sprint, user=annotator).delete()
    assert token_client.get(reverse("api-judgments")).status_code == 200


def test_a_superuser_keeps_tokens_without_memberships(sprint, make_user, api_client_for):
    boss = make_user("boss", is_staff=True, is_superuser=True)
    member = SprintMember.objects.create(sprint=sprint, user=boss, role=SprintRole.LEAD)
    client = api_client_for(boss)
    member.delete()
    assert client.get(reverse("api-judgments")).status_code == 200
