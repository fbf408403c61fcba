"""The leaderboard page: the chart of ratings with interval bars, the table and the win-rate
matrix; linked from the home page and the dashboard for leads; refused to reviewers (who label
too) and annotators (403, no model named), non-members (404) and anonymous visitors (login)."""

import re

import pytest
from django.test import Client

from tests.reviews.leaderboard_fixtures import judge, label, model_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(sprint, annotator):
    for n in range(10):
        item = model_item(sprint, f"i{n}", {"a": ("bot", "v2"), "b": "rival", "c": "third"})
        label(item, ["a", "b", "c"] if n % 5 else ["b", "c", "a"])
        judge(item, annotator, ["c", "b", "a"])
    return sprint


def page(user, sprint, query: str = "") -> tuple[int, str]:
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(f"/reviews/sprints/{sprint.pk}/leaderboard{query}")
    return response.status_code, response.content.decode()


def test_a_lead_sees_the_chart_the_table_and_the_matrix(rated, lead):
    status, html = page(lead, rated)
    assert status == 200
    assert html.count('<g class="interval"') == 3
    assert html.count("<line x1=") >= 3
    assert re.findall(r'<tr data-model="([^"]+)"', html) == ["bot@v2", "rival", "third"]
    assert 'id="win-rates"' in html and "(10)" in html
    assert 'aria-current="page">consensus labels' in html


def test_the_judgments_source_is_a_link_away(rated, lead):
    status, html = page(lead, rated, "?source=judgments")
    assert status == 200
    assert re.findall(r'<tr data-model="([^"]+)"', html) == ["third", "rival", "bot@v2"]
    assert page(lead, rated, "?source=nonsense")[0] == 200  # falls back to consensus


def test_who_may_open_it(rated, annotator, reviewer, make_user):
    for user in (annotator, reviewer):
        status, html = page(user, rated)
        assert status == 403 and "bot@v2" not in html
        assert "for the sprint&#x27;s leads" in html
    assert page(make_user("stranger"), rated)[0] == 404
    assert page(None, rated)[0] == 302


def test_linked_for_leads_only(rated, reviewer, lead, annotator):
    url = f'href="/reviews/sprints/{rated.pk}/leaderboard"'
    for user, shown in [(reviewer, False), (lead, True), (annotator, False)]:
        client = Client()
        client.force_login(user)
        assert (url in client.get("/").content.decode()) is shown, user.username
    client = Client()
    client.force_login(lead)
    assert url in client.get(f"/reviews/sprints/{rated.pk}/dashboard").content.decode()


def test_an_empty_sprint_says_so(sprint, lead):
    status, html = page(lead, sprint)
    assert status == 200 and "No comparison of two models yet" in html


def test_groups_that_never_met_get_their_own_chart_and_ranks(sprint, lead):
    for n in range(6):
        label(model_item(sprint, f"big{n}", {"a": "p", "b": "q", "c": "r"}), ["a", "b", "c"])
        label(model_item(sprint, f"small{n}", {"a": "wiki-a", "b": "wiki-b"}), ["a", "b"])
    status, html = page(lead, sprint)
    assert status == 200 and 'id="disconnected"' in html and "2 groups" in html
    assert 'id="rating-chart-1"' in html and 'id="rating-chart-2"' in html
    placed = re.findall(r'<tr data-model="([^"]+)" data-component="(\d)"', html)
    assert placed == [("p", "1"), ("q", "1"), ("r", "1"), ("wiki-a", "2"), ("wiki-b", "2")]
    assert html.index('id="rating-chart-2"') > html.rindex('data-label="r"')


def test_the_page_prints_the_apis_figures(rated, lead):
    from reviews.services.leaderboard import leaderboard

    report = leaderboard([rated], bootstrap=200)
    _, html = page(lead, rated)
    for entry in report["models"]:
        low, high = entry["ci"]
        assert f"{entry['rating']:.1f}</td>" in html and f"{low:.1f} \u2013 {high:.1f}" in html
