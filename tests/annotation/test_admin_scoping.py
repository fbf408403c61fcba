"""A lead sees only the sprints they lead, and only those sprints' objects."""

import pytest
from django.urls import reverse

from annotation.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_sprints(sprint, other_sprint, lead_b, annotator, make_user, make_items, make_judgment):
    annotator_b = make_user("ann-b")
    [item_a] = make_items(sprint, "mine-1")
    [item_b] = make_items(other_sprint, "theirs-1")
    return {
        "item_a": item_a,
        "item_b": item_b,
        "judgment_a": make_judgment(item_a, annotator),
        "judgment_b": make_judgment(item_b, annotator_b),
        "event_b": AuditEvent.objects.get(sprint=other_sprint, action="items.imported"),
    }


def test_changelists_show_only_the_lead_sprint(lead_client, sprint, other_sprint, two_sprints):
    sprints = lead_client.get(reverse("admin:annotation_sprint_changelist")).text
    assert sprint.name in sprints and other_sprint.name not in sprints

    items = lead_client.get(reverse("admin:annotation_item_changelist")).text
    assert "mine-1" in items and "theirs-1" not in items
    # The sprint filter offers only sprints the lead can see.
    assert other_sprint.name not in items

    judgments = lead_client.get(reverse("admin:annotation_judgment_changelist"))
    assert list(judgments.context["cl"].result_list) == [two_sprints["judgment_a"]]

    assignments = lead_client.get(reverse("admin:annotation_assignment_changelist"))
    assert [a.sprint_id for a in assignments.context["cl"].result_list] == [sprint.pk]

    events = lead_client.get(reverse("admin:annotation_auditevent_changelist"))
    assert {e.sprint_id for e in events.context["cl"].result_list} == {sprint.pk}


@pytest.mark.parametrize(
    "model, key",
    [
        ("sprint", None),
        ("item", "item_b"),
        ("judgment", "judgment_b"),
        ("auditevent", "event_b"),
    ],
)
def test_other_sprint_objects_cannot_be_opened(lead_client, other_sprint, two_sprints, model, key):
    obj = other_sprint if key is None else two_sprints[key]
    response = lead_client.get(reverse(f"admin:annotation_{model}_change", args=[obj.pk]))
    # The admin's answer for an object that does not exist: back to the index, nothing shown.
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_other_sprint_cannot_be_changed(lead_client, other_sprint, two_sprints):
    url = reverse("admin:annotation_sprint_change", args=[other_sprint.pk])
    lead_client.post(url, {"name": "taken over"})
    other_sprint.refresh_from_db()
    assert other_sprint.name != "taken over"


def test_member_lists_belong_to_the_lead_sprint(lead_client, sprint, other_sprint, lead_b):
    page = lead_client.get(reverse("admin:annotation_sprint_change", args=[sprint.pk]))
    assert "lead-b" not in page.text


def test_each_lead_sees_their_own(client, lead_b, other_sprint, sprint, two_sprints):
    client.force_login(lead_b)
    items = client.get(reverse("admin:annotation_item_changelist")).text
    assert "theirs-1" in items and "mine-1" not in items
