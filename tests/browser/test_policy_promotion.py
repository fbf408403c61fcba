"""A lead promotes a policy on its evidence page in a real headless Chromium: the page shows
both win rates, the rule and the gate's refusal under the strict Content-Security-Policy (no
script at all, no console error); promoting with a blank reason is refused with the problem
shown; with a written reason the override promotes it, production changes, and the reason is
in the name's history."""

import pytest

from tests.policies.gate_fixtures import candidate_and_production, evaluated
from tests.support.builders import export_of
from training.models import PolicyVersion, RegistryEvent

pytestmark = pytest.mark.browser
# Skips on a machine without the package (a failure in CI, where nothing may skip).
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.mark.django_db(transaction=True)
def test_a_lead_is_refused_then_overrides_with_a_reason(
    sprint, lead, chromium_page, screenshot_path
):
    candidate, production = candidate_and_production(export_of(sprint, lead), lead)
    evaluated(candidate, production, lead, wins=14, losses=2)
    page = chromium_page
    problems: list[str] = []

    def on_console(message) -> None:
        if not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("lead")
    page.get_by_label("Password").fill("pw-lead")
    page.get_by_role("button", name="Log in").click()
    page.goto("/training/policies")
    page.get_by_role("link", name="support-policy@v2").click()

    expect(page.get_by_role("heading", name="support-policy@v2")).to_be_visible()
    expect(page.locator("#policy-stage")).to_have_text("candidate")
    expect(page.locator("#human-rate")).to_contain_text("0.875")
    expect(page.locator("#automatic-rate")).to_contain_text("0.700")
    expect(page.locator("#verdict")).to_contain_text("The gate refuses promotion.")
    expect(page.locator("#verdict")).to_contain_text("16 human comparison(s)")
    expect(page.get_by_role("img", name="Candidate's win rate over production")).to_be_visible()
    assert page.locator("script").count() == 0
    page.screenshot(path=screenshot_path("policy-evidence"), full_page=True)

    reason = page.get_by_label("Override reason")
    button = page.get_by_role("button", name="Override and promote support-policy@v2")
    reason.fill("   ")
    button.click()
    expect(page.locator("#errors")).to_contain_text("override_reason")
    expect(page.locator("#policy-stage")).to_have_text("candidate")
    assert PolicyVersion.objects.get(pk=production.pk).stage == "production"

    page.get_by_label("Override reason").fill("Legal needs the new refusal wording today.")
    page.get_by_role("button", name="Override and promote support-policy@v2").click()
    expect(page.locator("#policy-stage")).to_have_text("production")
    history = page.locator("#history")
    expect(history).to_contain_text("Legal needs the new refusal wording today.")
    expect(history).to_contain_text("override")
    expect(page.get_by_role("button", name="Roll back to support-policy@v1")).to_be_visible()
    assert PolicyVersion.objects.get(pk=production.pk).stage == "archived"
    assert RegistryEvent.objects.get(event="promoted", version_id=candidate.pk).override
    page.screenshot(path=screenshot_path("policy-promoted"), full_page=True)
    # The refused promotion answered 409, which Chromium logs; nothing else may be logged.
    assert problems == [
        "Failed to load resource: the server responded with a status of 409 (Conflict)"
    ]
