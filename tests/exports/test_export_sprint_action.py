"""The sprint list's "Export selected sprints…" admin action (registered by the exports app):
it opens the start-export page with the sprints the lead leads filled in, and the export then
starts through the same service as the API."""

from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse

from annotation.admin.leads import ensure_leads_group
from annotation.models import Sprint, SprintMember, SprintRole
from exports.admin import export_sprints
from exports.models import DatasetVersion

pytestmark = pytest.mark.django_db

SPRINTS = reverse("admin:annotation_sprint_changelist")
ADD = reverse("admin:exports_datasetversion_add")


@pytest.fixture(autouse=True)
def lead_in_group(lead):
    lead.groups.add(ensure_leads_group())


def act(user, sprints):
    client = Client()
    client.force_login(user)
    body = {"action": "export_sprints", "_selected_action": [s.pk for s in sprints]}
    return client, client.post(SPRINTS, body, follow=False)


def test_the_action_opens_the_start_page_with_the_sprints_and_starts_the_export(
    lead, sprint, django_capture_on_commit_callbacks
):
    client, response = act(lead, [sprint])
    assert response.status_code == 302
    assert response["Location"] == f"{ADD}?sprints={sprint.pk}"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert [str(pk) for pk in page.context["adminform"].form.initial["sprints"]] == [str(sprint.pk)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        done = client.post(
            ADD, {"sprints": [sprint.pk], "kind": "preference", "format": "jsonl", "filters": ""}
        )
    assert done.status_code == 302
    dataset = DatasetVersion.objects.get()
    assert list(dataset.sprints.all()) == [sprint] and dataset.status == "queued"
    assert len(callbacks) == 1


def test_sprints_the_user_does_not_lead_are_named_and_left_out(
    lead, sprint, other_sprint, make_user
):
    superuser = make_user("root", is_staff=True, is_superuser=True)
    _, both = act(superuser, [sprint, other_sprint])
    assert both["Location"].endswith(f"?sprints={min(sprint.pk, other_sprint.pk)},"
                                     f"{max(sprint.pk, other_sprint.pk)}")  # fmt: skip
    # A sprint where the lead is only a reviewer is named and left out.
    SprintMember.objects.create(sprint=other_sprint, user=lead, role=SprintRole.REVIEWER)
    _, response = act(lead, [sprint, other_sprint])
    assert response["Location"] == f"{ADD}?sprints={sprint.pk}"
    # Whatever list the action is given, a sprint not led is named, not exported.
    told = []
    admin = SimpleNamespace(message_user=lambda request, text, level: told.append(text))
    request = SimpleNamespace(user=lead)
    picked = Sprint.objects.filter(pk__in=[sprint.pk, other_sprint.pk])
    assert export_sprints(admin, request, picked)["Location"] == f"{ADD}?sprints={sprint.pk}"
    assert told == [f"Only a sprint's leads export it; left out: {other_sprint.name}."]
    _, alone = act(lead, [other_sprint])
    assert "datasetversion/add" not in alone.get("Location", "")
    assert DatasetVersion.objects.count() == 0


def test_the_action_is_listed_on_the_sprint_page(lead, sprint):
    client = Client()
    client.force_login(lead)
    page = client.get(SPRINTS)
    assert "Export selected sprints…" in page.content.decode()
