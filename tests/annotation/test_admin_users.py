"""Leads see only the people of their sprints, and change no account; superusers manage all.

Found in issue 13: a lead could set the password (and username, email, active flag) of any
non-staff user, another team's reviewers included, and saw every account in the changelist
and the member autocomplete.
"""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from annotation.models import SprintMember, SprintRole

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def reviewer_b(make_user, other_sprint):
    user = make_user("rev-b")
    SprintMember.objects.create(sprint=other_sprint, user=user, role=SprintRole.REVIEWER)
    return user


def password_post(client, user, password="a-Long-pass-phrase-42"):
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    return client.post(url, {"password1": password, "password2": password})


def test_lead_cannot_add_an_account_with_a_password(lead_client):
    data = {
        "username": "new-annotator",
        "password1": "a-Long-pass-phrase-42",
        "password2": "a-Long-pass-phrase-42",
        "usable_password": "true",
    }
    assert lead_client.post(reverse("admin:auth_user_add"), data).status_code == 403
    assert not User.objects.filter(username="new-annotator").exists()


def test_lead_cannot_make_anyone_superuser(lead_client, staff_lead, annotator):
    url = reverse("admin:auth_user_change", args=[annotator.pk])
    page = lead_client.get(url)
    assert page.status_code == 200
    assert 'name="is_superuser"' not in page.text
    # Not even the start of the password hash, nor a link to the password form.
    assert "md5" not in page.text and "/password/" not in page.text
    data = {
        "username": annotator.username,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "date_joined_0": "2025-01-01",
        "date_joined_1": "00:00:00",
    }
    assert lead_client.post(url, data).status_code == 403
    annotator.refresh_from_db()
    assert not annotator.is_superuser and not annotator.is_staff


def test_lead_cannot_change_staff_accounts(lead_client, staff_lead, make_user):
    admin_user = make_user("boss", is_staff=True, is_superuser=True)
    url = reverse("admin:auth_user_change", args=[admin_user.pk])
    assert lead_client.post(url, {"username": "pwned"}).status_code == 403
    assert password_post(lead_client, admin_user).status_code == 403
    admin_user.refresh_from_db()
    assert admin_user.check_password("pw-boss") and admin_user.username == "boss"


def test_lead_cannot_take_over_another_team_reviewer(lead_client, reviewer_b):
    """As found: ``POST /admin/auth/user/<id>/password/`` answered 302 and set the password."""
    assert password_post(lead_client, reviewer_b).status_code in (403, 404)
    url = reverse("admin:auth_user_change", args=[reviewer_b.pk])
    lead_client.post(url, {"username": "pwned", "email": "me@evil.test", "is_active": ""})
    reviewer_b.refresh_from_db()
    assert reviewer_b.check_password("pw-rev-b")
    assert (reviewer_b.username, reviewer_b.email, reviewer_b.is_active) == ("rev-b", "", True)


def test_lead_never_sets_a_password_in_their_own_team(lead_client, annotator):
    assert password_post(lead_client, annotator).status_code == 403
    url = reverse("admin:auth_user_change", args=[annotator.pk])
    assert lead_client.post(url, {"username": "renamed", "is_active": ""}).status_code == 403
    annotator.refresh_from_db()
    assert annotator.check_password("pw-ann1")
    assert (annotator.username, annotator.is_active) == ("ann1", True)


def test_changelist_shows_only_people_of_the_lead_sprints(
    lead_client, staff_lead, annotator, reviewer_b, lead_b, make_user
):
    make_user("nobody")
    page = lead_client.get(reverse("admin:auth_user_changelist"))
    assert {u.username for u in page.context["cl"].result_list} == {"lead", "ann1"}
    # Searching does not reach past the scope either.
    page = lead_client.get(reverse("admin:auth_user_changelist"), {"q": "rev-b"})
    assert list(page.context["cl"].result_list) == []


def test_other_people_cannot_be_opened(lead_client, reviewer_b):
    for name in ("change", "history", "delete"):
        response = lead_client.get(reverse(f"admin:auth_user_{name}", args=[reviewer_b.pk]))
        # The admin's answer for a row that does not exist: back to the index, nothing shown.
        assert response.status_code in (302, 403, 404), name
        assert "rev-b" not in response.content.decode()


def test_member_autocomplete_offers_only_the_lead_people(
    lead_client, annotator, reviewer_b, make_user
):
    make_user("nobody")
    url = reverse("admin:autocomplete")
    params = {"app_label": "annotation", "model_name": "sprintmember", "field_name": "user"}
    results = lead_client.get(url, {**params, "term": ""}).json()["results"]
    assert {r["text"] for r in results} == {"lead", "ann1"}
    assert lead_client.get(url, {**params, "term": "rev"}).json()["results"] == []


def test_lead_cannot_add_someone_outside_their_sprints_to_a_sprint(
    lead_client, sprint, staff_lead, reviewer_b
):
    from tests.annotation.test_admin_sprints import sprint_form

    lead_member = SprintMember.objects.get(sprint=sprint, user=staff_lead)
    members = [(lead_member, staff_lead, "lead", ""), (None, reviewer_b, "annotator", "")]
    url = reverse("admin:annotation_sprint_change", args=[sprint.pk])
    response = lead_client.post(url, sprint_form(sprint, members))
    assert response.status_code == 200  # the form again, with the error
    assert not SprintMember.objects.filter(sprint=sprint, user=reviewer_b).exists()


def test_lead_creates_a_sprint_with_people_of_their_sprints(
    lead_client, staff_lead, annotator, reviewer_b, rubric
):
    from annotation.models import Sprint
    from tests.annotation.test_admin_sprints import sprint_form

    draft = Sprint(name="Finance batch 2", slug="fin-2", rubric=rubric)
    members = [(None, staff_lead, "annotator", ""), (None, annotator, "reviewer", "")]
    response = lead_client.post(reverse("admin:annotation_sprint_add"), sprint_form(draft, members))
    assert response.status_code == 302
    created = Sprint.objects.get(slug="fin-2")
    roles = dict(created.memberships.values_list("user__username", "role"))
    assert roles == {"lead": "lead", "ann1": "reviewer"}

    refused = Sprint(name="Finance batch 3", slug="fin-3", rubric=rubric)
    members = [(None, reviewer_b, "annotator", "")]
    response = lead_client.post(
        reverse("admin:annotation_sprint_add"), sprint_form(refused, members)
    )
    assert response.status_code == 200
    assert not Sprint.objects.filter(slug="fin-3").exists()


def test_superuser_still_manages_every_account(superuser_client, reviewer_b):
    assert password_post(superuser_client, reviewer_b, "another-Long-phrase-7").status_code == 302
    reviewer_b.refresh_from_db()
    assert reviewer_b.check_password("another-Long-phrase-7")
    page = superuser_client.get(reverse("admin:auth_user_changelist"))
    assert "rev-b" in page.text
