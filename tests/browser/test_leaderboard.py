"""A lead opens the model leaderboard in a real headless Chromium from the home page: the
ratings chart (a point and an interval bar per model), the table and the win-rate matrix render
under the page's strict Content-Security-Policy, with no script and no console error."""

import pytest

from tests.browser.test_dashboard import log_in
from tests.reviews.leaderboard_fixtures import label, model_item

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def rated_sprint(sprint):
    for n in range(24):
        item = model_item(sprint, f"i{n}", {"a": ("bot", "v2"), "b": "rival", "c": "third"})
        label(item, None if n % 6 == 0 else ["a", "b", "c"] if n % 4 else ["c", "a", "b"])
    return sprint


def test_a_lead_reads_the_leaderboard(rated_sprint, lead, chromium_page, screenshot_path):
    page = chromium_page
    problems = []
    page.on(
        "console",
        lambda m: (
            None if m.location.get("url", "").endswith("/favicon.ico") else problems.append(m.text)
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, "lead")
    page.get_by_role("link", name="Leaderboard").first.click()
    expect(page.get_by_role("heading", name="Sprint A · model leaderboard")).to_be_visible()
    expect(page.locator("#rating-chart g.interval")).to_have_count(3)
    expect(page.locator("#rating-chart g.interval line")).to_have_count(3)
    expect(page.locator("#rating-chart svg")).to_be_visible()
    expect(page.locator("#ratings tbody tr").first).to_have_attribute("data-model", "bot@v2")
    expect(page.locator("#win-rates tbody tr")).to_have_count(3)
    assert page.locator("script").count() == 0
    page.screenshot(path=screenshot_path("leaderboard"), full_page=True)
    page.get_by_role("link", name="every judgment").click()
    expect(page.locator("#rating-chart")).to_contain_text("No comparison of two models yet")
    assert problems == []
