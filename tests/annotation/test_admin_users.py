"""Leads may add annotators, but not raise anyone's privileges."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db

User = get_user_model()


def test_lead_adds_an_annotator(lead_client):
    data = {
        "username": "new-annotator",
        "password1": "a-Long-pass-phrase-42",
        "password2": "a-Long-pass-phrase-42",
        "usable_password": "true",
    }
    response = lead_client.post(reverse("admin:auth_user_add"), data)
    assert response.status_code == 302
    user = User.objects.get(username="new-annotator")
    assert not user.is_staff and not user.is_superuser


def test_lead_cannot_make_anyone_superuser(lead_client, staff_lead, annotator):
    url = reverse("admin:auth_user_change", args=[annotator.pk])
    page = lead_client.get(url)
    assert page.status_code == 200
    assert 'name="is_superuser"' not in page.text
    data = {
        "username": annotator.username,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "date_joined_0": "2025-01-01",
        "date_joined_1": "00:00:00",
    }
    lead_client.post(url, data)
    annotator.refresh_from_db()
    assert not annotator.is_superuser and not annotator.is_staff


def test_lead_cannot_change_staff_accounts(lead_client, staff_lead, make_user):
    admin_user = make_user("boss", is_staff=True, is_superuser=True)
    url = reverse("admin:auth_user_change", args=[admin_user.pk])
    assert lead_client.post(url, {"username": "pwned"}).status_code == 403
    password_url = reverse("admin:auth_user_password_change", args=[admin_user.pk])
    response = lead_client.post(password_url, {"password1": "x" * 20, "password2": "x" * 20})
    assert response.status_code == 403
    admin_user.refresh_from_db()
    assert admin_user.check_password("pw-boss")
