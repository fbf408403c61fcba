"""A lead opens the model leaderboard in a real headless Chromium from the home page: the
ratings chart (a point and an interval bar per model; one chart per group of models that met),
the table and the win-rate matrix render under the page's strict Content-Security-Policy, with
no script and no console error; long model names are readable."""

import itertools

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
    expect(page.locator("#rating-chart-1 g.interval")).to_have_count(3)
    expect(page.locator("#rating-chart-1 g.interval line.bar")).to_have_count(3)
    expect(page.locator("#rating-chart-1 svg")).to_be_visible()
    expect(page.locator("#ratings tbody tr").first).to_have_attribute("data-model", "bot@v2")
    expect(page.locator("#win-rates tbody tr")).to_have_count(3)
    assert page.locator("script").count() == 0
    page.screenshot(path=screenshot_path("leaderboard"), full_page=True)
    page.get_by_role("link", name="every judgment").click()
    expect(page.locator("#rating-charts")).to_contain_text("No comparison of two models yet")
    assert problems == []


LONG = {
    "a": "wiki-assistant-large-2025-06-preview",
    "b": "wiki-assistant-large-2025-06-stable",
    "c": "wiki-assistant-small-2025-05",
}


def test_long_model_names_are_readable_and_groups_apart(
    sprint, lead, chromium_page, screenshot_path
):
    """Long names that share a prefix are written in full, one a row, never overlapping; two
    groups that never met get a chart each."""
    for n in range(12):
        label(model_item(sprint, f"w{n}", LONG), ["a", "b", "c"] if n % 3 else ["c", "b", "a"])
        label(model_item(sprint, f"l{n}", {"a": "ledger-copilot-v1", "b": "ledger-copilot-v2"}),
              ["a", "b"] if n % 4 else ["b", "a"])  # fmt: skip
    page = chromium_page
    log_in(page, "lead")
    page.goto(f"/reviews/sprints/{sprint.pk}/leaderboard")
    expect(page.locator("#rating-chart-1 g.interval")).to_have_count(3)
    expect(page.locator("#rating-chart-2 g.interval")).to_have_count(2)
    labels = page.locator("#rating-chart-1 text.row-label")
    assert sorted(labels.all_text_contents()) == sorted(LONG.values())
    boxes = [labels.nth(n).bounding_box() for n in range(3)]
    for upper, lower in itertools.pairwise(boxes):
        assert upper["y"] + upper["height"] <= lower["y"]  # rows do not overlap
    chart_box = page.locator("#rating-chart-1 svg").bounding_box()
    assert all(box["x"] >= chart_box["x"] for box in boxes)  # nothing cut at the left
    page.screenshot(path=screenshot_path("leaderboard-long-names"), full_page=True)
