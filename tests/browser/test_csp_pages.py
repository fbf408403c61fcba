"""The site's one Content-Security-Policy breaks none of the pages that run scripts: Swagger UI
(its start-up script is a separate response, not inline) and the admin's own scripts. Chromium
reports anything the policy blocks as a console error naming it."""

import pytest

pytestmark = pytest.mark.browser
# Skips on a machine without the package (a failure in CI, where nothing may skip).
expect = pytest.importorskip("playwright.sync_api").expect


def watch_for_violations(page) -> list[str]:
    problems: list[str] = []

    def on_console(message) -> None:
        # The browser asks for /favicon.ico on its own; Concord has none. Any other error (a
        # blocked script or style included) is a problem of the page.
        if message.type == "error" and not message.location.get("url", "").endswith(
            "/favicon.ico"
        ):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_under_the_policy(annotator, chromium_page, screenshot_path):
    page = chromium_page
    problems = watch_for_violations(page)
    log_in(page, "ann1", "pw-ann1")
    expect(page.get_by_role("heading", name="My sprints")).to_be_visible()

    response = page.goto("/api/docs/")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Concord API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    page.screenshot(path=screenshot_path("api-docs"), full_page=False)
    assert problems == []


@pytest.mark.django_db(transaction=True)
def test_the_admin_runs_its_scripts_under_the_policy(make_user, sprint, chromium_page):
    make_user("root", is_staff=True, is_superuser=True)
    page = chromium_page
    problems = watch_for_violations(page)

    page.goto("/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("pw-root")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    response = page.goto(f"/admin/annotation/sprint/{sprint.pk}/change/")

    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    # The admin's JavaScript ran: its date shortcuts are drawn by script, not by the template.
    expect(page.locator(".datetimeshortcuts").first).to_be_attached()
    page.goto("/admin/annotation/sprint/")
    page.locator("#action-toggle").check()  # actions.js selects every row
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")
    assert problems == []
