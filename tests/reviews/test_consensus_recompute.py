"""Consensus without a worker: a fully labelled sprint whose labels were never computed exports
nothing, says why in its status and the command's output, and a recompute over the API fixes it
(issue 17: "consensus is invisible without a worker")."""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from annotation.models import AuditEvent, Sprint
from reviews.models import ConsensusLabel, Dispute
from tests.exports.export_fixtures import export
from tests.reviews.dispute_fixtures import make_items, people, vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled_without_worker(sprint, make_user):
    """Six items judged by three annotators, stored as submit does; no review ever ran (no
    worker), so there is no consensus label."""
    items = make_items(sprint, 6)
    users = people(sprint, make_user, ["ada", "bo", "cy"])
    for item in items:
        for user, ranking in zip(users, (["a", "b"], ["a", "b"], ["b", "a"]), strict=True):
            vote(item, user, ranking, strength=2, helpfulness={"a": 4, "b": 2})
    assert not ConsensusLabel.objects.filter(sprint=sprint).exists()
    return items


def test_an_empty_export_says_why_and_a_recompute_fixes_it(
    sprint, labelled_without_worker, lead, api_client_for
):
    client = api_client_for(lead)
    empty = export(lead, sprint)
    assert empty.rows == 0
    note = client.get(f"/api/v1/exports/{empty.pk}").json()["note"]
    assert note.startswith("No rows: 6 items had no consensus label yet")
    assert "/consensus/recompute" in note and "review_sprint" in note

    answer = client.post(f"/api/v1/sprints/{sprint.pk}/consensus/recompute")
    assert answer.status_code == 200, answer.content
    counts = answer.json()
    assert counts["items"] == 6 and counts["labelled"] == 6 and counts["written"] == 6
    assert counts["disputes_opened"] == Dispute.objects.filter(sprint=sprint).count()
    assert ConsensusLabel.objects.filter(sprint=sprint).count() == 6
    event = AuditEvent.objects.get(action="consensus.recomputed", sprint=sprint)
    assert event.actor == lead and event.changes["labelled"] == 6

    full = export(lead, sprint)
    assert full.rows == 6
    assert client.get(f"/api/v1/exports/{full.pk}").json()["note"] is None
    again = client.post(f"/api/v1/sprints/{sprint.pk}/consensus/recompute").json()
    assert again["written"] == 0  # idempotent: nothing changed, nothing rewritten


def test_the_export_command_prints_why_it_kept_nothing(sprint, labelled_without_worker, lead):
    out = io.StringIO()
    call_command("export_dataset", str(sprint.pk), "--user", lead.username, stdout=out, verbosity=0)
    assert "0 rows" in out.getvalue()
    assert "No rows: 6 items had no consensus label yet" in out.getvalue()


def test_who_may_recompute(
    sprint, other_sprint, labelled_without_worker, annotator, reviewer, make_user, api_client_for
):
    url = f"/api/v1/sprints/{sprint.pk}/consensus/recompute"
    assert api_client_for(None).post(url).status_code == 401
    refused = api_client_for(annotator).post(url)
    assert refused.status_code == 403 and set(refused.json()) == {"detail", "errors"}
    (stranger,) = people(other_sprint, make_user, ["stranger"], role="lead")
    assert api_client_for(stranger).post(url).status_code == 404
    assert not ConsensusLabel.objects.filter(sprint=sprint).exists()
    assert api_client_for(reviewer).post(url).status_code == 200
    assert ConsensusLabel.objects.filter(sprint=sprint).count() == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_recompute_of_a_sprint_is_told_one_is_running(
    sprint, labelled_without_worker, lead, api_client_for
):
    """While one recompute holds the sprint (here: another connection holding its row lock),
    a second answers 409 at once in the one error shape, and writes nothing."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Sprint.objects.select_for_update(no_key=True).filter(pk=sprint.pk).exists()
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        answer = api_client_for(lead).post(f"/api/v1/sprints/{sprint.pk}/consensus/recompute")
        assert answer.status_code == 409, answer.content
        assert "already running" in answer.json()["detail"]
        assert not ConsensusLabel.objects.filter(sprint=sprint).exists()
    finally:
        release.set()
        holder.join()
    after = api_client_for(lead).post(f"/api/v1/sprints/{sprint.pk}/consensus/recompute")
    assert after.status_code == 200
