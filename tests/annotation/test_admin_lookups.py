"""No changelist answers a query-string lookup that is not on its allow-list.

Found in issue 13: as a lead, ``GET /admin/auth/user/?auth_token__key__startswith=<prefix>
&username=<someone>`` answered "1 user" or "0 users", so anyone's API token (a superuser's
included) came out a character at a time. Every registered admin is checked, so one added
later is covered the day it is registered.
"""

import pytest
from django.contrib import admin
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotation.admin.lookups import AllowListedLookups

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda pair: pair[0]._meta.label)


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_token_oracle_is_refused(lead_client, annotator, make_user):
    boss = make_user("boss", is_staff=True, is_superuser=True)
    for user in (boss, annotator):
        key = Token.objects.create(user=user).key
        for prefix in (key[:1], "~"):
            params = {"auth_token__key__startswith": prefix, "username": user.username}
            response = lead_client.get(changelist(type(user)), params)
            assert response.status_code == 400
            assert b"1 user" not in response.content and b"0 users" not in response.content


@pytest.mark.parametrize(
    "lookup",
    ["password__startswith", "username", "email__contains", "sprint_memberships__role"],
)
def test_user_field_lookups_are_refused(lead_client, annotator, lookup):
    response = lead_client.get(changelist(type(annotator)), {lookup: "p"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "model, model_admin", REGISTERED, ids=[model._meta.label for model, _ in REGISTERED]
)
def test_every_changelist_refuses_an_unlisted_lookup(
    lead_client, superuser_client, staff_lead, model, model_admin
):
    assert isinstance(model_admin, AllowListedLookups)
    # A lookup on the model's own primary key: Django's stock rule accepts it.
    params = {f"{model._meta.pk.name}__gte": "0"}
    as_lead = lead_client.get(changelist(model), params)
    # 400 where the lead may open the list, 403 where they may not; never a page of rows.
    assert as_lead.status_code in (400, 403)
    assert superuser_client.get(changelist(model), params).status_code == 400


def test_list_filters_and_date_hierarchy_still_work(lead_client, sprint, annotator):
    from annotation.models import AuditEvent, Item

    response = lead_client.get(
        changelist(Item), {"sprint__id__exact": sprint.pk, "is_gold__exact": "0"}
    )
    assert response.status_code == 200
    response = lead_client.get(
        changelist(AuditEvent),
        {"created_at__year": "2026", "action__exact": "x", "actor__id__exact": annotator.pk},
    )
    assert response.status_code == 200
    response = lead_client.get(changelist(type(annotator)), {"is_active__exact": "1"})
    assert response.status_code == 200


def test_a_filter_on_a_related_field_does_not_reach_through_it(lead_client, annotator):
    from annotation.models import AuditEvent

    response = lead_client.get(changelist(AuditEvent), {"actor__password__startswith": "p"})
    assert response.status_code == 400


def test_lead_never_sees_tokens(lead_client, annotator):
    token = Token.objects.create(user=annotator)
    index = lead_client.get(reverse("admin:index"))
    assert b"authtoken" not in index.content
    assert lead_client.get(reverse("admin:authtoken_tokenproxy_changelist")).status_code == 403
    url = reverse("admin:authtoken_tokenproxy_change", args=[annotator.pk])
    response = lead_client.get(url)
    assert response.status_code in (302, 403)
    assert token.key.encode() not in response.content
