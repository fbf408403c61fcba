"""A lead invites someone new from the sprint's admin page; the invited person opens the link
in a real browser, chooses a password and lands on their sprints."""

import pytest

from annotation.admin.leads import ensure_leads_group

pytestmark = pytest.mark.browser
# Skips on a machine without the package (a failure in CI, where nothing may skip).
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.mark.django_db(transaction=True)
def test_lead_invites_and_the_person_joins(lead, sprint, chromium_page, screenshot_path):
    lead.groups.add(ensure_leads_group())
    page = chromium_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # The live server's first request loads the URL configuration, slow on a busy machine.
    page.goto("/admin/login/", timeout=90_000)
    page.get_by_label("Username").fill("lead")
    page.get_by_label("Password").fill("pw-lead")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/admin/annotation/sprint/{sprint.pk}/change/")
    page.get_by_role("link", name="Invite someone").click()
    page.get_by_label("Username").fill("newbie")
    page.get_by_label("Role").select_option("reviewer")
    page.get_by_role("button", name="Invite").click()
    link = page.locator("#invitation-link").input_value()
    assert "/invitations/" in link
    page.screenshot(path=screenshot_path("invitation-issued"), full_page=True)

    page.context.clear_cookies()
    page.goto(link)
    expect(page.get_by_role("heading", name="Welcome, newbie")).to_be_visible()
    page.get_by_label("Password", exact=True).fill("a-Chosen-pass-phrase-58")
    page.get_by_label("Password again").fill("a-Chosen-pass-phrase-58")
    page.get_by_role("button", name="Set password and log in").click()
    expect(page.get_by_role("heading", name="My sprints")).to_be_visible()
    expect(page.get_by_role("cell", name=sprint.name, exact=True)).to_be_visible()
    expect(page.locator("header")).to_contain_text("newbie")

    page.goto(link)
    expect(page.locator("#invitation-refused")).to_contain_text("used already")
    assert errors == []
