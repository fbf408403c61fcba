"""Sprints in the admin: the progress columns, and audit events for every edit."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.admin.sprints import progress_percent, with_progress
from annotation.models import AuditEvent, Sprint, SprintMember, SprintRole

pytestmark = pytest.mark.django_db


def sprint_form(sprint, members=(), **overrides) -> dict:
    """The sprint change form as the browser would post it. ``members`` are
    ``(member_or_None, user, role, pseudonym)``."""
    data = {
        "name": sprint.name,
        "slug": sprint.slug,
        "description": sprint.description,
        "rubric": str(sprint.rubric_id),
        "status": sprint.status,
        "overlap_k": str(sprint.overlap_k),
        "gold_rate": str(sprint.gold_rate),
        "agreement_threshold": str(sprint.agreement_threshold),
        "lease_minutes": str(sprint.lease_minutes),
        "deadline_0": "",
        "deadline_1": "",
        "memberships-TOTAL_FORMS": str(len(members)),
        "memberships-INITIAL_FORMS": str(sum(1 for m in members if m[0] is not None)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, (member, user, role, pseudonym) in enumerate(members):
        data.update(
            {
                f"memberships-{index}-id": str(member.pk) if member else "",
                f"memberships-{index}-sprint": str(sprint.pk),
                f"memberships-{index}-user": str(user.pk),
                f"memberships-{index}-role": role,
                f"memberships-{index}-pseudonym": pseudonym,
            }
        )
    data.update(overrides)
    return data


@pytest.fixture
def judged_sprint(make_sprint, make_user, make_items, make_judgment):
    """k=2, three items: item 1 judged by two annotators, item 2 judged once and then revised
    (one live judgment), item 3 not judged. Live judgments 3 of 6 needed."""
    sprint = make_sprint("judged", status="active", overlap_k=2)
    first, second = make_user("j-ann1"), make_user("j-ann2")
    items = make_items(sprint, "j-1", "j-2", "j-3")
    make_judgment(items[0], first)
    make_judgment(items[0], second)
    original = make_judgment(items[1], first)
    make_judgment(items[1], first, supersedes=original)
    return sprint


def test_progress_figures(judged_sprint, make_sprint):
    empty = make_sprint("empty")
    rows = {s.slug: s for s in with_progress(Sprint.objects.all())}
    judged = rows["judged"]
    assert judged.item_total == 3
    assert judged.judged_item_total == 2
    assert judged.live_judgment_total == 3
    assert progress_percent(judged) == 50.0
    assert (rows["empty"].item_total, rows["empty"].live_judgment_total) == (0, 0)
    assert progress_percent(rows["empty"]) == 0.0
    assert empty.pk


def test_progress_columns_in_the_changelist(superuser_client, judged_sprint):
    page = superuser_client.get(reverse("admin:annotation_sprint_changelist"))
    [row] = [s for s in page.context["cl"].result_list if s.pk == judged_sprint.pk]
    assert (row.item_total, row.judged_item_total, row.live_judgment_total) == (3, 2, 3)
    assert "3 of 6 judgments" in page.text
    assert "50%" in page.text


def test_changelist_queries_do_not_grow_with_sprints(superuser_client, make_sprint, make_items):
    url = reverse("admin:annotation_sprint_changelist")
    make_items(make_sprint("q-0"), "q0-1")
    with CaptureQueriesContext(connection) as few:
        superuser_client.get(url)
    for n in range(1, 6):
        make_items(make_sprint(f"q-{n}"), f"q{n}-1")
    with CaptureQueriesContext(connection) as many:
        superuser_client.get(url)
    assert len(many) == len(few)


def test_sprint_change_is_audited_with_changed_fields(lead_client, sprint, staff_lead):
    member = SprintMember.objects.get(sprint=sprint, user=staff_lead)
    members = [(member, staff_lead, "lead", "")]
    data = sprint_form(sprint, members, overlap_k="2", status="closed")
    response = lead_client.post(reverse("admin:annotation_sprint_change", args=[sprint.pk]), data)
    assert response.status_code == 302
    sprint.refresh_from_db()
    assert (sprint.overlap_k, sprint.status) == (2, "closed")
    event = AuditEvent.objects.get(action="sprint.changed")
    assert event.actor == staff_lead and event.sprint == sprint
    assert event.changes == {
        "overlap_k": {"from": 3, "to": 2},
        "status": {"from": "active", "to": "closed"},
    }


def test_member_changes_are_audited(
    lead_client, sprint, staff_lead, annotator, make_user, make_sprint
):
    # A lead adds people already in a sprint they lead (others are invited).
    newcomer = make_user("ann-new")
    earlier = make_sprint("sprint-a0")
    SprintMember.objects.create(sprint=earlier, user=staff_lead, role=SprintRole.LEAD)
    SprintMember.objects.create(sprint=earlier, user=newcomer, role=SprintRole.ANNOTATOR)
    lead_member = SprintMember.objects.get(sprint=sprint, user=staff_lead)
    ann_member = SprintMember.objects.get(sprint=sprint, user=annotator)
    url = reverse("admin:annotation_sprint_change", args=[sprint.pk])
    members = [
        (lead_member, staff_lead, "lead", ""),
        (ann_member, annotator, "reviewer", "R9"),
        (None, newcomer, "annotator", "A7"),
    ]
    assert lead_client.post(url, sprint_form(sprint, members)).status_code == 302
    ann_member.refresh_from_db()
    assert (ann_member.role, ann_member.pseudonym) == ("reviewer", "R9")
    added = AuditEvent.objects.get(action="member.added")
    assert added.changes == {"user": newcomer.pk, "role": "annotator", "pseudonym": "A7"}
    assert added.sprint == sprint
    changed = AuditEvent.objects.get(action="member.changed")
    assert changed.changes["role"] == {"from": "annotator", "to": "reviewer"}

    members = [(lead_member, staff_lead, "lead", ""), (ann_member, annotator, "reviewer", "R9")]
    data = sprint_form(sprint, [*members, (None, newcomer, "annotator", "A7")])
    newcomer_member = SprintMember.objects.get(sprint=sprint, user=newcomer)
    data["memberships-INITIAL_FORMS"] = "3"
    data["memberships-2-id"] = str(newcomer_member.pk)
    data["memberships-2-DELETE"] = "on"
    assert lead_client.post(url, data).status_code == 302
    assert not SprintMember.objects.filter(pk=newcomer_member.pk).exists()
    removed = AuditEvent.objects.get(action="member.removed")
    assert removed.changes["user"] == newcomer.pk
    assert removed.object_id == str(newcomer_member.pk)


def test_lead_who_creates_a_sprint_leads_it(lead_client, staff_lead, rubric):
    draft = Sprint(name="Finance copilot batch 1", slug="fin-1", rubric=rubric)
    data = sprint_form(draft)
    response = lead_client.post(reverse("admin:annotation_sprint_add"), data)
    assert response.status_code == 302
    created = Sprint.objects.get(slug="fin-1")
    assert created.created_by == staff_lead
    assert SprintMember.objects.get(sprint=created, user=staff_lead).role == SprintRole.LEAD
    assert AuditEvent.objects.filter(action="sprint.created", sprint=created).exists()
    page = lead_client.get(reverse("admin:annotation_sprint_changelist"))
    assert "Finance copilot batch 1" in page.text


def test_a_member_row_cannot_swap_its_person(lead_client, sprint, staff_lead, annotator, make_user):
    """Found in review: changing the person on a saved row skipped add_member and left the
    person taken off (maybe from their last sprint) with a live API token."""
    earlier = Sprint.objects.create(name="Earlier", slug="earlier-swap", rubric=sprint.rubric)
    other = make_user("swap-in")
    SprintMember.objects.create(sprint=earlier, user=staff_lead, role=SprintRole.LEAD)
    SprintMember.objects.create(sprint=earlier, user=other, role=SprintRole.ANNOTATOR)
    lead_member = SprintMember.objects.get(sprint=sprint, user=staff_lead)
    ann_member = SprintMember.objects.get(sprint=sprint, user=annotator)
    members = [(lead_member, staff_lead, "lead", ""), (ann_member, other, "annotator", "")]
    url = f"/admin/annotation/sprint/{sprint.pk}/change/"
    response = lead_client.post(url, sprint_form(sprint, members))
    assert response.status_code == 200
    assert "cannot be changed" in response.text
    ann_member.refresh_from_db()
    assert ann_member.user_id == annotator.pk
