"""Fixtures for the annotation app's admin and command tests: a lead with the Leads group's
permissions, a second lead on another sprint, items imported through the real service, and
judgments with the assignment they need."""

import io
import json
import uuid

import pytest
from django.test import Client

from annotation.admin.leads import ensure_leads_group
from annotation.models import Assignment, Item, Judgment, SprintMember, SprintRole
from annotation.services.imports import import_items
from tests.annotation.labeling_fixtures import lease_item


def item_row(external_id: str, **extra) -> dict:
    row = {
        "external_id": external_id,
        "prompt": f"Question {external_id}: how do I reset my password?",
        "responses": [
            {"id": "a", "text": f"Answer A to {external_id}", "model": "bot-v3"},
            {"id": "b", "text": f"Answer B to {external_id}", "model": "bot-v4"},
        ],
        "metadata": {"source": "prod-log", "stratum": "account"},
    }
    row.update(extra)
    return row


def jsonl(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


@pytest.fixture
def leads_group(db):
    # Ensured rather than assumed from migration 0003: a transactional test elsewhere may have
    # flushed the database.
    return ensure_leads_group()


@pytest.fixture
def staff_lead(lead, leads_group):
    lead.groups.add(leads_group)
    return lead


@pytest.fixture
def lead_client(staff_lead) -> Client:
    client = Client()
    client.force_login(staff_lead)
    return client


@pytest.fixture
def lead_b(make_user, other_sprint, leads_group):
    user = make_user("lead-b", is_staff=True)
    user.groups.add(leads_group)
    SprintMember.objects.create(sprint=other_sprint, user=user, role=SprintRole.LEAD)
    return user


@pytest.fixture
def superuser_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def make_items():
    """Import items named by external id into a sprint, through the import service."""

    def make(sprint, *external_ids: str, **extra) -> list[Item]:
        rows = [item_row(external_id, **extra) for external_id in external_ids]
        import_items(sprint, io.BytesIO(jsonl(rows)), filename="items.jsonl")
        return list(Item.objects.filter(sprint=sprint, external_id__in=external_ids))

    return make


@pytest.fixture
def make_judgment():
    def make(item: Item, annotator, *, supersedes: Judgment | None = None) -> Judgment:
        assignment = Assignment.objects.filter(
            item=item, annotator=annotator
        ).first() or lease_item(item, annotator)
        return Judgment.objects.create(
            sprint=item.sprint,
            item=item,
            assignment=assignment,
            annotator=annotator,
            rubric=item.sprint.rubric,
            answers={"preference": {"ranking": ["a", "b"], "strength": 1}},
            idempotency_key=uuid.uuid4().hex,
            supersedes=supersedes,
        )

    return make
