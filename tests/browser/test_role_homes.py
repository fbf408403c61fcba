"""Each role's home in a real headless Chromium: a walk that clicks through every link it can
reach (same origin, never logout) two steps deep finds every page loaded (200), with a link
back home, no console error under the Content-Security-Policy, and none of another role's
pages."""

import pytest

from tests.browser.helpers import log_in, watch_problems
from tests.navigation.test_role_walk import FOREIGN, world  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

DEPTH = 2


def browse(page, username: str) -> dict[str, int]:
    problems = watch_problems(page)
    log_in(page, username)
    origin = page.url.rstrip("/")
    seen: dict[str, int] = {}
    frontier = ["/"]
    for _ in range(DEPTH + 1):
        following: list[str] = []
        for path in frontier:
            if path in seen:
                continue
            response = page.goto(path)
            seen[path] = response.status if response else 0
            if path.startswith(("/api/docs/", "/api/schema/")):
                continue
            assert page.locator('a[href="/"]').count() > 0, f"{path} has no link back home"
            if path.startswith(FOREIGN):
                continue
            hrefs = page.locator("a[href]").evaluate_all("(all) => all.map((a) => a.href)")
            following += [
                href.removeprefix(origin).split("#")[0]
                for href in hrefs
                if href.startswith(origin + "/") and "logout" not in href
            ]
        frontier = following
    assert problems == []
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_reviewer_clicks_from_home_to_the_queue_and_back(world, reviewer, sprint, chromium_page):  # noqa: F811
    seen = browse(chromium_page, "rev1")
    assert {path: status for path, status in seen.items() if status != 200} == {}
    assert f"/reviews/sprints/{sprint.pk}/disputes" in seen
    assert not any(p.startswith(("/training/", "/admin/")) or "dashboard" in p for p in seen)


@pytest.mark.django_db(transaction=True)
def test_a_lead_clicks_through_every_tool(world, lead, sprint, chromium_page, screenshot_path):  # noqa: F811
    seen = browse(chromium_page, "lead")
    assert {path: status for path, status in seen.items() if status != 200} == {}
    for path in [
        f"/reviews/sprints/{sprint.pk}/dashboard",
        f"/reviews/sprints/{sprint.pk}/disputes",
        "/training/models",
        "/admin/exports/datasetversion/",
        "/admin/training/trainingrun/",
        "/api/docs/",
    ]:
        assert path in seen, path
    chromium_page.goto("/")
    chromium_page.screenshot(path=screenshot_path("lead-home"), full_page=True)
