"""A real headless Chromium driven by Playwright's sync API, against pytest-django's
``live_server``.

Debian's Chromium at /usr/bin/chromium is used, never a browser that Playwright downloads. The
sync API runs an asyncio event loop in the test thread, and Django refuses ORM calls from a
thread with a running loop unless DJANGO_ALLOW_ASYNC_UNSAFE is set; the tests' own ORM calls
are plain synchronous code, so allowing them is safe here.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.db import connections

from tests.support.availability import CHROMIUM, chromium_missing

if TYPE_CHECKING:
    from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def chromium_page(transactional_db, monkeypatch, live_server) -> Iterator["Page"]:
    """A fresh page in headless Chromium, its base URL the live server's; closed, with its
    browser, after the test. Data the live server should see must be committed, hence
    ``transactional_db``."""
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(base_url=live_server.url)
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
            context.close()
        finally:
            browser.close()
            # ORM calls made while Playwright's loop runs get connections of their own, which
            # nothing else closes; left open, PostgreSQL refuses to drop the test database.
            connections.close_all()


@pytest.fixture
def screenshot_path() -> Callable[[str], Path]:
    """Where to save a screenshot by name: test-artifacts/<name>.png (gitignored)."""

    def path_for(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        return ARTIFACTS / f"{name}.png"

    return path_for
