"""A user logs in through the real login page in a real browser and lands on their sprints."""

import pytest

pytestmark = pytest.mark.browser
# Skips on a machine without the package (a failure in CI, where nothing may skip).
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.mark.django_db(transaction=True)
def test_annotator_logs_in_and_sees_their_sprints(
    annotator, sprint, other_sprint, chromium_page, screenshot_path
):
    page = chromium_page
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("ann1")
    page.get_by_label("Password").fill("pw-ann1")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="My sprints")).to_be_visible()
    expect(page.get_by_role("cell", name=sprint.name, exact=True)).to_be_visible()
    # Blind by sprint: a sprint the user is not a member of is not listed.
    expect(page.get_by_text(other_sprint.name)).to_have_count(0)
    expect(page.locator("header")).to_contain_text("ann1")
    page.screenshot(path=screenshot_path("login-my-sprints"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_wrong_password_stays_on_the_login_page(annotator, chromium_page):
    page = chromium_page
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("ann1")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_text("My sprints")).to_have_count(0)
