"""Consensus labels and disputes in the admin, scoped to the sprints a lead leads, and the
``review_sprint`` command."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from annotation.models import ItemFlag, SprintMember, SprintRole
from reviews.models import ConsensusLabel, Dispute
from reviews.services.disputes import review_sprint
from tests.reviews.dispute_fixtures import make_items, people, vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_sprints(sprint, other_sprint, make_user):
    """Sprint A and B each with a flagged item (a dispute) and an agreed one (a label)."""
    out = {}
    for current in (sprint, other_sprint):
        flagged, agreed = make_items(current, 2, prefix=current.slug)
        ada, bo = people(current, make_user, ["ada", "bo"])
        vote(agreed, ada, ["a", "b"])
        vote(agreed, bo, ["a", "b"])
        ItemFlag.objects.create(sprint=current, item=flagged, annotator=ada, reason="broken")
        review_sprint(current)
        out[current.slug] = {
            "dispute": Dispute.objects.get(item=flagged),
            "label": ConsensusLabel.objects.get(item=agreed),
        }
    return out


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def lead_a(make_user, sprint):
    user = make_user("lead-a", is_staff=True)
    SprintMember.objects.create(sprint=sprint, user=user, role=SprintRole.LEAD)
    return user


def test_a_lead_sees_only_the_sprints_they_lead(lead_a, two_sprints):
    client = client_for(lead_a)
    mine, theirs = two_sprints["sprint-a"], two_sprints["sprint-b"]
    disputes = client.get(reverse("admin:reviews_dispute_changelist"))
    assert disputes.status_code == 200
    assert list(disputes.context["cl"].result_list) == [mine["dispute"]]
    labels = client.get(reverse("admin:reviews_consensuslabel_changelist"))
    assert list(labels.context["cl"].result_list) == [mine["label"]]
    page = client.get(reverse("admin:reviews_dispute_change", args=[mine["dispute"].pk]))
    assert page.status_code == 200
    assert f"/reviews/disputes/{mine['dispute'].pk}" in page.text
    for name, obj in (("dispute", theirs["dispute"]), ("consensuslabel", theirs["label"])):
        response = client.get(reverse(f"admin:reviews_{name}_change", args=[obj.pk]))
        # The admin's answer for an object outside the queryset: back to the index.
        assert response.status_code == 302, name


def test_nobody_adds_changes_or_deletes_here(lead_a, two_sprints):
    client = client_for(lead_a)
    mine = two_sprints["sprint-a"]
    assert client.get(reverse("admin:reviews_dispute_add")).status_code == 403
    assert client.get(reverse("admin:reviews_consensuslabel_add")).status_code == 403
    url = reverse("admin:reviews_dispute_delete", args=[mine["dispute"].pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Dispute.objects.filter(pk=mine["dispute"].pk, status="open").exists()
    change = reverse("admin:reviews_consensuslabel_change", args=[mine["label"].pk])
    client.post(change, {"ranking": '["b", "a"]', "method": "majority", "confidence": 1})
    assert ConsensusLabel.objects.get(pk=mine["label"].pk).ranking == ["a", "b"]


def test_staff_who_lead_nothing_do_not_see_them(make_user, sprint, two_sprints):
    reviewer = make_user("staff-reviewer", is_staff=True)
    SprintMember.objects.create(sprint=sprint, user=reviewer, role=SprintRole.REVIEWER)
    client = client_for(reviewer)
    assert client.get(reverse("admin:reviews_dispute_changelist")).status_code == 403
    assert client.get(reverse("admin:reviews_consensuslabel_changelist")).status_code == 403


def test_the_command_sweeps_a_sprint(sprint, make_user):
    (item,) = make_items(sprint, 1)
    ada, bo = people(sprint, make_user, ["ada", "bo"])
    vote(item, ada, ["a", "b"])
    vote(item, bo, ["b", "a"])
    sprint.overlap_k = 2
    sprint.save()
    out = StringIO()
    call_command("review_sprint", sprint.slug, stdout=out)
    counts = json.loads(out.getvalue())
    assert counts["opened"] == 1 and counts["consensus"]["labelled"] == 1
    assert Dispute.objects.get(item=item).reasons == ["split", "low_agreement"]

    out = StringIO()
    call_command("review_sprint", str(sprint.pk), "--method", "majority", stdout=out)
    assert json.loads(out.getvalue()) == {
        "consensus": {
            "adjudicated": 0,
            "items": 1,
            "labelled": 0,
            "methods": {},
            "undecided": 1,
            "written": 0,
        }
    }
    with pytest.raises(CommandError):
        call_command("review_sprint", "no-such-sprint")
