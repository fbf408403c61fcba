"""Each role's home and the links between pages: a walk from the home page that follows every
link it can reach (same origin, GET, never logout) a few steps deep finds no dead end (every
page answers 200 and links back home) and no page the role may not open."""

from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from django.test import Client

from annotation.models import SprintMember, SprintRole
from reviews.models import Dispute
from tests.annotation.labeling_fixtures import add_items
from tests.support.builders import export_of, training_run
from training.models import ModelStage, ModelVersion

DEPTH = 3
# Pages drawn by someone else's templates: followed, checked for 200, not expanded further, and
# not required to carry our navigation bar (the admin's own header has "View site").
FOREIGN = ("/admin/", "/api/docs/", "/api/schema/")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def links_of(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    out = []
    for href in parser.hrefs:
        href = urldefrag(href).url
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not href.startswith("/"):
            continue  # another origin, a relative "?name=" picker, a mailto
        if "logout" in href:
            continue
        out.append(href)
    return out


def walk(user) -> dict[str, tuple[int, str]]:
    """Every page reached from ``/`` within DEPTH clicks: path -> (status, html)."""
    client = Client()
    client.force_login(user)
    seen: dict[str, tuple[int, str]] = {}
    frontier = ["/"]
    for _ in range(DEPTH + 1):
        following = []
        for url in frontier:
            if url in seen:
                continue
            response = client.get(url)
            html = response.content.decode(errors="replace")
            seen[url] = (response.status_code, html)
            if response.status_code == 200 and not url.startswith(FOREIGN):
                following += links_of(html)
        frontier = following
    return seen


def assert_no_dead_end(pages: dict[str, tuple[int, str]]) -> None:
    bad = {url: status for url, (status, _) in pages.items() if status != 200}
    assert bad == {}, f"pages that do not answer 200: {bad}"
    for url, (_, html) in pages.items():
        if url.startswith(("/api/docs/", "/api/schema/")):
            continue
        assert 'href="/"' in html, f"{url} has no link back home"


def assert_never(pages: dict, prefixes: tuple[str, ...], other_sprint) -> None:
    """No page under ``prefixes`` was reached, and no page names a sprint not the user's."""
    assert [url for url in pages if url.startswith(prefixes)] == []
    assert all(other_sprint.name not in html for _, html in pages.values())


@pytest.fixture
def world(sprint, other_sprint, lead, annotator, reviewer, make_user):
    items = add_items(sprint, 3)
    add_items(other_sprint, 2)
    Dispute.objects.create(sprint=sprint, item=items[0], reasons=["split"])
    Dispute.objects.create(sprint=other_sprint, item=other_sprint.items.first(), reasons=["split"])
    SprintMember.objects.create(
        sprint=other_sprint, user=make_user("boss", is_staff=True), role=SprintRole.LEAD
    )
    dataset = export_of(sprint, lead)
    run = training_run(dataset, lead)
    model = ModelVersion.objects.create(
        name="support-rm", version=1, run=run, stage=ModelStage.CANDIDATE, metrics={}
    )
    model.sprints.set([sprint])
    return {"items": items, "dataset": dataset, "run": run, "model": model}


def test_annotator_walks_their_sprints_and_nothing_else(world, annotator, sprint, other_sprint):
    pages = walk(annotator)
    assert_no_dead_end(pages)
    home = pages["/"][1]
    assert f"/sprints/{sprint.pk}/label" in pages
    assert "1 / 3" not in home and "0 / 3" in home  # my progress: 0 of the sprint's 3 items
    assert_never(pages, ("/reviews/", "/training/", "/admin/"), other_sprint)


def test_reviewer_reaches_their_dispute_queue_with_its_open_count(
    world, reviewer, sprint, other_sprint
):
    pages = walk(reviewer)
    assert_no_dead_end(pages)
    queue = f"/reviews/sprints/{sprint.pk}/disputes"
    assert queue in pages
    assert f'href="{queue}">Disputes (1 open)</a>' in pages["/"][1]
    # The queue links back home and to the dispute; the dashboard is the leads'.
    assert f"/reviews/disputes/{Dispute.objects.filter(sprint=sprint).get().pk}" in pages
    assert_never(pages, ("/training/", "/admin/"), other_sprint)
    assert not any("dashboard" in url for url in pages)
    # Reviewers label too: the model leaderboard (which names the models) is the leads'.
    assert not any("leaderboard" in url for url in pages)


def test_lead_reaches_dashboard_disputes_exports_models_admin_and_api_docs(
    world, lead, sprint, other_sprint
):
    pages = walk(lead)
    assert_no_dead_end(pages)
    dashboard = f"/reviews/sprints/{sprint.pk}/dashboard"
    queue = f"/reviews/sprints/{sprint.pk}/disputes"
    for url in [
        dashboard,
        queue,
        "/training/models",
        f"/reviews/sprints/{sprint.pk}/leaderboard",
        "/admin/",
        "/admin/exports/datasetversion/",
        "/admin/training/trainingrun/",
        "/api/docs/",
    ]:
        assert url in pages, url
    # Both ways: the dashboard links to the queue and the queue to the dashboard.
    assert f'href="{queue}"' in pages[dashboard][1]
    assert f'href="{dashboard}"' in pages[queue][1]
    assert f"/reviews/sprints/{other_sprint.pk}/" not in "".join(pages)


def test_a_user_without_sprints_sees_no_tools(make_user):
    pages = walk(make_user("newcomer"))
    assert_no_dead_end(pages)
    assert set(pages) == {"/", "/api/docs/"}
    assert "not a member of any sprint" in pages["/"][1]


def get_as(user, path: str):
    client = Client()
    client.force_login(user)
    return client.get(path)


@pytest.mark.parametrize("path", ["/no/such/page", "/sprints/999999/label"])
def test_not_found_page_is_styled_with_a_way_back(annotator, path):
    response = get_as(annotator, path)
    assert response.status_code == 404
    html = response.content.decode()
    assert '<h1 id="error-title">Page not found</h1>' in html
    assert 'href="/">Back to your home page</a>' in html


def test_forbidden_page_is_styled_with_the_reason_and_a_way_back(annotator, sprint):
    response = get_as(annotator, f"/reviews/sprints/{sprint.pk}/dashboard")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You may not open this page" in html and "for the sprint&#x27;s leads" in html
    assert 'href="/">Back to your home page</a>' in html


def test_api_not_found_stays_json(annotator):
    response = get_as(annotator, "/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "errors": []}
