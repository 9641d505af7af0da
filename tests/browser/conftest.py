"""A real headless Chromium (Debian's, driven by Playwright) against a real backend on
loopback, shared by every browser test: one browser and one backend for the folder.

Without Chromium or Playwright the tests skip and say how to get them; CI installs both
and sets ``CI_REQUIRE_BROWSER=1``, which turns that skip into a failure so the browser
tests can never pass there by not running.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ktrdr.records.models import OperationType
from tests.support.live_backend import LiveBackend

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = (
    "needs Debian's Chromium and Playwright's Python package: apt-get install -y chromium; "
    "pip install -e '.[dev]' (never `playwright install`: the page is tested in the system "
    "Chromium)"
)
# Odd text that must show as text wherever the page puts data.
MARKUP = "<img src=x onerror=alert(1)>"
TERMINAL = ("completed", "failed", "cancelled")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


try:
    import playwright.sync_api  # noqa: F401

    HAVE_PLAYWRIGHT = True
except ImportError:
    HAVE_PLAYWRIGHT = False

# Without Playwright these modules cannot even be imported: test_browser_available.py
# still runs and says why (or fails, in CI).
collect_ignore = (
    []
    if HAVE_PLAYWRIGHT
    else [
        "test_operations_page.py",
        "test_result_pages.py",
        "test_page_safety.py",
        "test_compare_page.py",
    ]
)


def require_browser() -> None:
    """Skip, saying how to install what is missing; fail instead under CI_REQUIRE_BROWSER."""
    if not HAVE_PLAYWRIGHT:
        missing = f"Playwright is not installed: {INSTALL_HINT}"
    elif chromium_path() is None:
        missing = f"Chromium is not installed: {INSTALL_HINT}"
    else:
        return
    if os.environ.get("CI_REQUIRE_BROWSER"):
        pytest.fail(f"CI_REQUIRE_BROWSER is set but {missing}")
    pytest.skip(missing)


def artifacts_dir() -> Path:
    """Where screenshots go: ``$KTRDR_ARTIFACTS_DIR`` (CI keeps it), else the clone's
    ``test-artifacts/`` (ignored by git)."""
    base = os.environ.get("KTRDR_ARTIFACTS_DIR")
    folder = (Path(base) if base else REPO / "test-artifacts") / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Package scope, not session: Playwright's sync API keeps an event loop running on this
# thread while it is open, so it must be closed before the other test folders run (their
# asyncio.run() would refuse to start inside it).
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(),
            # A name that resolves to loopback, as a DNS-rebinding attacker would arrange.
            args=["--host-resolver-rules=MAP rebind.example 127.0.0.1"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Seeded:
    """Operations written into the backend's database before it started."""

    markup_training: str = ""
    markup_cycle: str = ""


@dataclass
class WebBackend:
    backend: LiveBackend
    seeded: Seeded
    http: httpx.Client
    _cycle: str | None = field(default=None)

    @property
    def url(self) -> str:
        return self.backend.url

    def wait_terminal(self, op_id: str, seconds: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            op: dict[str, Any] = self.http.get(f"/operations/{op_id}").json()["data"]
            if op["status"] in TERMINAL:
                return op
            time.sleep(0.05)
        raise AssertionError(f"{op_id} did not finish within {seconds}s")

    def completed_cycle(self) -> dict[str, Any]:
        """One research cycle run to completion (started on first use, then shared)."""
        if self._cycle is None:
            reply = self.http.post("/agent/trigger", json={"folds": 0, "seed": 3})
            assert reply.status_code == 202, reply.text
            self._cycle = str(reply.json()["data"]["operation_id"])
        op = self.wait_terminal(self._cycle)
        assert op["status"] == "completed", op["error_message"]
        return op


def _seed(backend: LiveBackend) -> Seeded:
    """A training and a research cycle whose strategy name (and error) is markup: the API
    refuses such names today, but older rows, imported data or a future producer could
    carry any text, and the page must show it as text."""
    seeded = Seeded()
    with backend.offline_service() as service:
        training = service.create(OperationType.TRAINING, parameters={"strategy_name": MARKUP})
        service.start(training.operation_id)
        service.fail(training.operation_id, f"strategy {MARKUP} failed: <b>bold</b>")
        seeded.markup_training = training.operation_id
        cycle = service.create(
            OperationType.AGENT_RESEARCH,
            parameters={"strategy_name": MARKUP, "phase": "assessing"},
        )
        service.start(cycle.operation_id)
        service.complete(
            cycle.operation_id,
            {
                "strategy_name": MARKUP,
                "verdict": "neutral",
                "sharpe_ratio": 0.5,
                "reasons": [MARKUP],
            },
            parameters={"phase": "completed"},
        )
        seeded.markup_cycle = cycle.operation_id
    return seeded


@pytest.fixture(scope="package")
def web(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[WebBackend]:
    root = tmp_path_factory.mktemp("web-backend")
    backend = LiveBackend(root)
    seeded = _seed(backend)
    backend.start()
    try:
        with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
            yield WebBackend(backend, seeded, http)
    finally:
        backend.kill()


@dataclass
class PageLog:
    """What the page said on its console and the errors it threw."""

    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.messages.append(f"{message.type}: {message.text}")


@dataclass
class Tab:
    page: Page
    log: PageLog


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    """A fresh page (own context) with its console, page errors and dialogs recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = PageLog()
    page.on("console", log.console)
    page.on("pageerror", lambda error: log.errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        log.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        yield Tab(page, log)
    finally:
        context.close()


def screenshot(page: Page, url: str, name: str, ready: str, narrow: int = 375) -> list[Path]:
    """The page at ``url`` in light and dark, wide and ``narrow`` px, into the artefacts
    folder; ``ready`` is a selector that shows the page has drawn its data."""
    written: list[Path] = []
    folder = artifacts_dir()
    page.goto(url)
    page.wait_for_selector(ready)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for label, width in (("wide", 1280), ("narrow", narrow)):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(120)  # charts redraw for the new width on the next frame
            path = folder / f"{name}-{scheme}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
    return written
