"""Whether this machine can run the browser tests; imports nothing from Playwright, so it
reports (skip with the install hint, or fail under CI_REQUIRE_BROWSER) even when the other
browser test modules cannot be collected."""

from __future__ import annotations

from tests.browser.conftest import chromium_path, require_browser


def test_chromium_and_playwright_are_available() -> None:
    require_browser()
    path = chromium_path()
    assert path is not None and path.startswith("/")
