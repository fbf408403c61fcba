"""The audit log in the admin: readable, never writable, by leads and superusers alike."""

import pytest
from django.urls import reverse

from annotation.models import AuditEvent
from annotation.services.audit import record_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(sprint, staff_lead):
    return record_event(staff_lead, "sprint.changed", sprint, sprint=sprint, changes={"k": 1})


@pytest.mark.parametrize("who", ["lead_client", "superuser_client"])
def test_audit_events_cannot_be_added_changed_or_deleted(request, who, event):
    client = request.getfixturevalue(who)
    change = reverse("admin:annotation_auditevent_change", args=[event.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert "sprint.changed" in page.text

    assert client.post(change, {"action": "forged"}).status_code == 403
    delete = reverse("admin:annotation_auditevent_delete", args=[event.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:annotation_auditevent_add")).status_code == 403

    changelist = client.get(reverse("admin:annotation_auditevent_changelist"))
    assert "delete_selected" not in changelist.text
    event.refresh_from_db()
    assert event.action == "sprint.changed"
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_changelist_lists_by_time_with_actor_action_and_object(lead_client, event, staff_lead):
    page = lead_client.get(reverse("admin:annotation_auditevent_changelist"))
    [row] = page.context["cl"].result_list
    assert row == event
    assert (
        "lead" in page.text and "sprint.changed" in page.text and "annotation.sprint" in page.text
    )
