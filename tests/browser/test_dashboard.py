"""A lead opens the sprint dashboard in a real headless Chromium: the progress, the SVG charts
and the annotator table render under the page's strict Content-Security-Policy, with no script
and no console error; the outlier is marked; an annotator is refused."""

import pytest

from tests.annotation.labeling_fixtures import add_items
from tests.reviews.agreement_fixtures import members, skip_item, store_judgment

pytestmark = pytest.mark.browser
# Skips on a machine without the package (a failure in CI, where nothing may skip).
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def judged_sprint(sprint, make_user):
    items = add_items(sprint, 8, gold=2)
    users = members(sprint, make_user, ["ada", "bo", "cy", "dee"])
    for number, item in enumerate(items):
        for user in users:
            careless = user == users[-1]
            agrees = number % 4 != 0 or user == users[0]
            ranking = ["b", "a"] if careless == agrees else ["a", "b"]
            if item.is_gold:
                ranking = ["a", "b"] if careless else ["b", "a"]
            answers = {
                "preference": {"ranking": ranking, "strength": 1 + number % 3},
                "helpfulness": {"a": 4 - careless, "b": 2 + number % 2},
            }
            store_judgment(item, user, answers, seconds=2 if careless else 30 + number)
    skip_item(add_items(sprint, 1, prefix="odd")[0], users[-1])
    return sprint


def log_in(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Log in").click()


def test_a_lead_reads_the_dashboard(judged_sprint, lead, chromium_page, screenshot_path):
    page = chromium_page
    problems = []

    def on_console(message) -> None:
        # The browser asks for /favicon.ico on its own; Concord has none. Anything else (a
        # CSP violation included) is a problem of this page.
        if not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, "lead")
    response = page.goto(f"/reviews/sprints/{judged_sprint.pk}/dashboard")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", name="Sprint A · dashboard")).to_be_visible()
    expect(page.locator("#throughput-chart rect.bar").first).to_be_visible()
    expect(page.locator("#alpha-chart polyline")).to_have_count(3)
    expect(page.locator("#criteria tbody tr")).to_have_count(3)
    outlier = page.locator("#annotators tr.outlier")
    expect(outlier).to_have_count(1)
    expect(outlier).to_contain_text("sprint-a-dee")
    expect(outlier).to_contain_text("outlier")
    expect(page.get_by_role("link", name="Dispute queue")).to_have_attribute(
        "href", f"/reviews/sprints/{judged_sprint.pk}/disputes"
    )
    assert page.locator("script").count() == 0
    page.screenshot(path=screenshot_path("dashboard"), full_page=True)
    assert problems == []


def test_an_annotator_is_refused(judged_sprint, annotator, chromium_page):
    page = chromium_page
    log_in(page, "ann1")
    response = page.goto(f"/reviews/sprints/{judged_sprint.pk}/dashboard")
    assert response is not None and response.status == 403
