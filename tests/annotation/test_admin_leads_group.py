"""Migrations 0003 and 0008 give the Leads group the permissions the admin needs, on any
database."""

import importlib
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from annotation.admin.leads import LEAD_PERMISSIONS, LEADS_GROUP, ensure_leads_group

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("annotation.migrations.0003_leads_group")
USERS_VIEW_ONLY = importlib.import_module(
    "annotation.migrations.0008_leads_cannot_add_or_change_users"
)


def expected_codenames() -> set[str]:
    return {
        f"{action}_{model}"
        for (_, model), actions in LEAD_PERMISSIONS.items()
        for action in actions
    }


def test_migration_creates_the_group_with_the_lead_permissions():
    Group.objects.filter(name=LEADS_GROUP).delete()
    state = MigrationExecutor(connection).loader.project_state(("annotation", "0003_leads_group"))
    MIGRATION.create_leads_group(state.apps, SimpleNamespace(connection=connection))
    USERS_VIEW_ONLY.take_user_permissions(state.apps, None)
    group = Group.objects.get(name=LEADS_GROUP)
    assert set(group.permissions.values_list("codename", flat=True)) == expected_codenames()

    MIGRATION.remove_leads_group(state.apps, SimpleNamespace(connection=connection))
    assert not Group.objects.filter(name=LEADS_GROUP).exists()


def test_ensure_leads_group_is_idempotent():
    first = ensure_leads_group()
    second = ensure_leads_group()
    assert first.pk == second.pk
    assert set(second.permissions.values_list("codename", flat=True)) == expected_codenames()


def test_leads_may_only_view_users():
    """Found in review: the group still held auth.add_user and auth.change_user, which only the
    user admin's overrides kept from being used."""
    codenames = set(
        Group.objects.get(name="Leads")
        .permissions.filter(content_type__app_label="auth")
        .values_list("codename", flat=True)
    )
    assert codenames == {"view_user"}
