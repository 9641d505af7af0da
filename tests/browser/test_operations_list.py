"""The operations list at ``/`` in a real Chromium, from a real backend seeded on a clock we
set: each row reads by its strategy (the id beneath it, smaller), says when it started in
one locale-proof format, says why it failed, leaves an ended row's ETA empty, writes every
span of time one way, and at 390 px keeps ids whole and the page from scrolling sideways."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from ktrdr.operations.service import OperationsService
from ktrdr.records.models import OperationType
from ktrdr.storage.sqlite_store import SqliteOperationStore
from tests.browser.conftest import Tab, screenshot
from tests.support.live_backend import LiveBackend

# The page's one way to write a span of time (dom.js ``duration``), exact and coarse.
DURATION = re.compile(r"<0\.1 s|\d\.\d s|\d+ s|\d+ min( \d{2} s)?|\d+ h \d{2} min")
WHOLE_DURATION = re.compile(f"^({DURATION.pattern})$")  # expect() searches: anchor it
STRATEGY = "mean_reversion_rsi_daily"
FAILED_STRATEGY = "breakout_volume"
REASON = (
    "Training stopped at epoch 12: the validation loss became NaN after the learning-rate "
    "schedule raised it to 0.5; lower the learning rate or scale the features first"
)
ZONE = "Asia/Kolkata"  # +05:30: a local time that is not UTC shifted by whole hours
STARTED = datetime(2026, 3, 14, 8, 30, tzinfo=UTC)
STARTED_ISO = "2026-03-14T08:30:00Z"  # as the API writes it
STARTED_LOCAL = "2026-03-14 14:00"


class Clock:
    """The service's clock, moved by hand so every duration on the page is known."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Listed:
    url: str
    cycle: str
    training: str  # the cycle's child
    backtest: str  # the cycle's child, without a strategy of its own
    failed: str
    long_run: str


def _seed(service: OperationsService, clock: Clock) -> Listed:
    """A cycle of 7 min 41 s with a 5.2 s training and a 0.138 s backtest under it (the
    three formats the issue saw mixed), a failed training and a run of two hours."""
    cycle = service.create(OperationType.AGENT_RESEARCH, parameters={"strategy_name": STRATEGY})
    service.start(cycle.operation_id)
    training = service.create(
        OperationType.TRAINING,
        parent_operation_id=cycle.operation_id,
        parameters={"strategy_name": STRATEGY},
    )
    service.start(training.operation_id)
    clock.advance(5.2)
    service.complete(training.operation_id, {"strategy_name": STRATEGY})
    backtest = service.create(OperationType.BACKTESTING, parent_operation_id=cycle.operation_id)
    service.start(backtest.operation_id)
    clock.advance(0.138)
    service.complete(backtest.operation_id)
    clock.advance(461 - 5.338)
    service.complete(cycle.operation_id, {"strategy_name": STRATEGY, "verdict": "neutral"})
    failed = service.create(OperationType.TRAINING, parameters={"strategy_name": FAILED_STRATEGY})
    service.start(failed.operation_id)
    clock.advance(12)
    service.fail(failed.operation_id, REASON)
    long_run = service.create(OperationType.TRAINING, parameters={"strategy_name": "slow_grid"})
    service.start(long_run.operation_id)
    clock.advance(2 * 3600 + 5 * 60 + 9)
    service.complete(long_run.operation_id)
    return Listed(
        "",
        cycle.operation_id,
        training.operation_id,
        backtest.operation_id,
        failed.operation_id,
        long_run.operation_id,
    )


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[Listed]:
    backend = LiveBackend(tmp_path_factory.mktemp("operations-list"))
    backend.data_dir.mkdir(parents=True, exist_ok=True)
    clock = Clock(STARTED)
    service = OperationsService(SqliteOperationStore(backend.db_path), clock=clock)
    try:
        seeded = _seed(service, clock)
    finally:
        service.close()
    backend.start()
    seeded.url = backend.url
    try:
        yield seeded
    finally:
        backend.kill()


def _open(page: Page, listed: Listed, width: int = 1280) -> None:
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": ZONE})
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{listed.url}/")
    expect(page.locator(f'tr[data-id="{listed.long_run}"]')).to_be_visible(timeout=15000)


def test_a_row_reads_by_its_strategy_when_it_started_and_why_it_failed(
    listed: Listed, tab: Tab
) -> None:
    page = tab.page
    _open(page, listed)
    cycle = page.locator(f'tr[data-id="{listed.cycle}"]')
    expect(cycle.locator(".title")).to_have_text(STRATEGY)
    expect(cycle.locator(".op-id")).to_have_text(listed.cycle)
    sizes = cycle.evaluate(
        """tr => [tr.querySelector('.title'), tr.querySelector('.op-id')].map(
             n => parseFloat(getComputedStyle(n).fontSize))"""
    )
    assert sizes[1] < sizes[0], sizes  # the id is the smaller, secondary text
    # A row without a strategy still reads as something.
    backtest = page.locator(f'tr[data-id="{listed.backtest}"]')
    expect(backtest.locator(".title")).to_have_text("Backtest")

    started = cycle.locator('[data-field="started"] time')
    expect(started).to_have_text(STARTED_LOCAL)
    assert started.get_attribute("title") == STARTED_ISO
    assert started.get_attribute("datetime") == STARTED_ISO

    reason = page.locator(f'tr[data-id="{listed.failed}"] [data-field="status"] .reason')
    expect(reason).to_be_visible()
    shown = reason.inner_text()
    assert shown.endswith("…") and len(shown) <= 90 and REASON.startswith(shown[:-1]), shown
    assert reason.get_attribute("title") == REASON
    expect(cycle.locator(".reason")).to_have_count(0)  # only a failed row says why
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def test_ended_rows_leave_eta_empty_and_every_duration_reads_one_way(
    listed: Listed, tab: Tab
) -> None:
    page = tab.page
    _open(page, listed)
    etas = page.locator('tbody [data-field="eta"]').all_inner_texts()
    assert etas and all(text == "" for text in etas), etas  # every seeded row has ended
    elapsed = {
        op_id: page.locator(f'tr[data-id="{op_id}"] [data-field="elapsed"]').inner_text()
        for op_id in (listed.cycle, listed.training, listed.backtest, listed.long_run)
    }
    assert list(elapsed.values()) == ["7 min 41 s", "5.2 s", "0.1 s", "2 h 05 min"], elapsed
    shown = page.locator('tbody [data-field="elapsed"]').all_inner_texts()
    odd = [text for text in shown if not DURATION.fullmatch(text)]
    assert not odd, odd


@contextmanager
def _running(listed: Listed) -> Iterator[tuple[httpx.Client, str]]:
    """A long training started through the API, cancelled on the way out."""
    with httpx.Client(base_url=f"{listed.url}/api/v1", timeout=10) as http:
        reply = http.post("/training/start", json={"strategy": "trend_momentum", "epochs": 20000})
        assert reply.status_code == 202, reply.text
        op_id: str = reply.json()["data"]["operation_id"]
        try:
            yield http, op_id
        finally:
            http.delete(f"/operations/{op_id}")


def test_a_running_row_counts_down_then_its_eta_empties_when_it_ends(
    listed: Listed, tab: Tab
) -> None:
    with _running(listed) as (http, op_id):
        page = tab.page
        _open(page, listed)
        row = page.locator(f'tr[data-id="{op_id}"]')
        eta = row.locator('[data-field="eta"]')
        expect(eta).to_have_text(WHOLE_DURATION, timeout=30000)
        expect(row.locator('[data-field="elapsed"]')).to_have_text(WHOLE_DURATION)
        assert http.delete(f"/operations/{op_id}").status_code == 200
        expect(row.locator('[data-field="status"]')).to_contain_text("cancelled", timeout=15000)
        expect(eta).to_have_text("")
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


# Every part of every id on the page: the part is whole when its text sits in one line box.
SPLIT_IDS = """() => {
  const split = [];
  let wrapped = 0;
  for (const code of document.querySelectorAll('tbody .op-id')) {
    if (code.getClientRects().length > 1) wrapped++;
    for (const node of code.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      if (range.getClientRects().length !== 1) split.push(node.textContent);
    }
  }
  return { split, wrapped };
}"""


def test_at_390_px_ids_stay_whole_and_the_page_does_not_scroll_sideways(
    listed: Listed, tab: Tab
) -> None:
    page = tab.page
    _open(page, listed, width=390)
    found = page.evaluate(SPLIT_IDS)
    assert found["split"] == [], found
    assert found["wrapped"] >= 1, found  # the check saw ids that had to wrap
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    reason = page.locator(f'tr[data-id="{listed.failed}"] .reason')
    expect(reason).to_be_visible()


def test_the_list_is_screenshot_light_and_dark_wide_and_390_px(listed: Listed, tab: Tab) -> None:
    """With a running row too (its ETA and Cancel button)."""
    page = tab.page
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": ZONE})
    with _running(listed) as (_, op_id):
        ready = f'tr[data-id="{op_id}"] [data-field="eta"]:text-matches("[0-9]")'
        written = screenshot(page, f"{listed.url}/", "operations-list", ready, narrow=390)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # ends narrow
        page.set_viewport_size({"width": 1280, "height": 900})
        box = page.locator(".table-scroll").evaluate("b => [b.scrollWidth, b.clientWidth]")
        assert box[0] <= box[1], box  # at 1280 px every column, Cancel too, fits unscrolled
    assert len(written) == 4 and all(p.stat().st_size > 5000 for p in written)
