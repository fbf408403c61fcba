"""The lead's sprint dashboard through the test client: what it shows, and to whom."""

import re

import pytest
from django.test import Client

from annotation.models import SprintRole
from reviews.models import Dispute
from tests.annotation.labeling_fixtures import add_items
from tests.reviews.agreement_fixtures import members, store_judgment


@pytest.fixture
def filled(db, sprint, make_user):
    items = add_items(sprint, 5)
    users = members(sprint, make_user, ["good1", "good2", "good3", "sloppy"])
    for item in items:
        for user in users:
            sloppy = user == users[-1]
            ranking = ["b", "a"] if sloppy else ["a", "b"]
            answers = {
                "preference": {"ranking": ranking, "strength": 2},
                "helpfulness": {"a": 4, "b": 2 + sloppy},
            }
            store_judgment(item, user, answers, seconds=1 if sloppy else 40)
    return sprint


def page(user, sprint):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(f"/reviews/sprints/{sprint.pk}/dashboard")


def test_lead_sees_progress_charts_table_and_outlier(filled, lead):
    response = page(lead, filled)
    assert response.status_code == 200
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "<script" not in html
    assert 'id="throughput-chart"' in html and 'id="alpha-chart"' in html
    assert html.count("<polyline") == 3  # preference, its strength, helpfulness
    assert 'data-criterion="preference"' in html
    assert re.search(r'class="outlier" data-annotator="sprint-a-sloppy"', html)
    assert not re.search(r'class="outlier" data-annotator="sprint-a-good1"', html)
    # Overlap 3 and 5 items: 15 judgments needed, 20 made (4 annotators each).
    assert "20 of 15 judgments" in html
    assert "100.0%" in html
    assert f'href="/reviews/sprints/{filled.pk}/disputes"' in html


def test_open_disputes_are_counted(filled, lead):
    item = filled.items.first()
    Dispute.objects.create(sprint=filled, item=item, reasons=["split"])
    html = page(lead, filled).content.decode()
    assert re.search(
        r'id="open-disputes"><div class="muted">Open disputes</div>'
        r'<div class="figure">1</div>',
        html,
    )


def test_superuser_sees_any_sprint_even_empty(db, sprint, make_user):
    admin = make_user("root", is_superuser=True, is_staff=True)
    response = page(admin, sprint)
    assert response.status_code == 200
    assert "No judgments yet." in response.content.decode()


def test_annotators_reviewers_strangers_and_anonymous_are_kept_out(
    filled, annotator, reviewer, make_user, other_sprint
):
    assert page(annotator, filled).status_code == 403
    assert page(reviewer, filled).status_code == 403
    other_lead = members(other_sprint, make_user, ["lead"], role=SprintRole.LEAD)[0]
    assert page(other_lead, filled).status_code == 404
    assert page(other_lead, other_sprint).status_code == 200
    anonymous = page(None, filled)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]


def test_unknown_sprint_is_404(db, lead):
    client = Client()
    client.force_login(lead)
    assert client.get("/reviews/sprints/999999/dashboard").status_code == 404


def test_sprint_admin_list_links_to_the_dashboard(filled, make_user):
    admin = make_user("root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    html = client.get("/admin/annotation/sprint/").content.decode()
    assert f'href="/reviews/sprints/{filled.pk}/dashboard"' in html
