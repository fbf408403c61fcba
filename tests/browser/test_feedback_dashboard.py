"""A feedback source's lead opens its dashboard in a real headless Chromium: the navigation
link, the three SVG charts and the tables render under the site's Content-Security-Policy with
no script and no console error; an annotator gets the styled 403 page, a lead of another source
the styled 404 page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.helpers import log_in, watch_problems
from tests.support.builders import feedback_event, feedback_source

pytestmark = pytest.mark.browser
# Skips on a machine without the package (a failure in CI, where nothing may skip).
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def watched_source(make_user):
    """Two weeks of events of two model versions: v1 answered well last week and badly this
    week (a drift mark), v2 steadily."""
    source = feedback_source("support-bot", name="Support bot", leads=[make_user("fb-lead")])
    now = timezone.now()
    for day in range(14):
        moment = now - timedelta(days=day, hours=1)
        for number in range(6):
            up = (number < 5) if day >= 7 else (number < 1)
            feedback_event(
                source, f"v1-{day}-{number}", occurred_at=moment, thumb=1 if up else -1,
                stars=4 if up else 2, stratum=("billing", "login")[number % 2],
                reasked=number == 5,
            )  # fmt: skip
            feedback_event(
                source, f"v2-{day}-{number}", occurred_at=moment, model_version="v2",
                thumb=1 if number % 3 else -1, stratum="shipping",
            )  # fmt: skip
    return source


def test_a_lead_reads_the_feedback_dashboard(watched_source, chromium_page, screenshot_path):
    page = chromium_page
    problems = watch_problems(page)
    log_in(page, "fb-lead")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Feedback").click()
    expect(page.get_by_role("heading", name="Feedback")).to_be_visible()
    page.get_by_role("link", name="Support bot").click()
    expect(page.get_by_role("heading", name="Support bot · feedback")).to_be_visible()
    assert page.url.endswith("/feedback/support-bot/")
    expect(page.locator("#events-chart rect.bar")).to_have_count(28)
    expect(page.locator("#thumbs-chart polyline")).to_have_count(2)
    expect(page.locator("#signals-chart polyline")).to_have_count(6)
    expect(page.locator("#versions tbody tr")).to_have_count(2)
    expect(page.locator('#versions tr[data-model="bot v1"]')).to_contain_text("drift down")
    expect(page.locator("#worst-strata tbody tr").first).to_have_attribute("data-stratum", "login")
    page.get_by_role("link", name="7 days").click()
    expect(page.locator("#events-chart rect.bar")).to_have_count(7)
    assert page.locator("script").count() == 0
    page.screenshot(path=screenshot_path("feedback-dashboard"), full_page=True)
    assert problems == []


def test_others_get_the_styled_refusals(watched_source, annotator, make_user, chromium_page):
    page = chromium_page
    log_in(page, "ann1")
    main_nav = page.get_by_role("navigation", name="Main")
    expect(main_nav.get_by_role("link", name="Home")).to_be_visible()
    expect(main_nav.get_by_role("link", name="Feedback")).to_have_count(0)
    response = page.goto("/feedback/support-bot/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You may not open this page")).to_be_visible()

    feedback_source("other-bot", leads=[make_user("other-lead")])
    page.context.clear_cookies()
    log_in(page, "other-lead")
    response = page.goto("/feedback/support-bot/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
