"""A research cycle's own page in a real Chromium against a real backend: the phase timeline
shows how far a running cycle has come (the phases done filled, the current one filled as far
as its child has come, the ones to come empty), one colour per phase in the bar, the chips
and the legend; Cancel asks first, cancels, says what the backend answered, and is gone once
the cycle has ended; the result reads as four sections (strategy, training, the backtest
against buy-and-hold, the verdict with each test marked passed or failed), with the server's
paths behind a toggle and each percentage written once, one way. Screenshots of a running and
a completed cycle, light and dark, 1280 and 390 px wide, go to the artefacts folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import TERMINAL, Tab, WebBackend, screenshot

PHASES = ["designing", "training", "backtesting", "assessing"]
PARTS = ["strategy", "model", "backtest", "verdict"]  # the result's sections, in order
# The bar's share of each phase (the phase table's percentages: 0-20-65-90-100).
TRAINING_ENDS = 0.65


@pytest.fixture
def running_cycle(web: WebBackend) -> Iterator[str]:
    """A cycle far too long to end while we look (4,000 epochs), cancelled afterwards; the
    shared completed cycle first, since a backend runs one cycle at a time."""
    web.completed_cycle()
    reply = web.http.post("/agent/trigger", json={"folds": 0, "seed": 11, "epochs": 4000})
    assert reply.status_code == 202, reply.text
    cycle_id = str(reply.json()["data"]["operation_id"])
    try:
        yield cycle_id
    finally:
        if web.http.get(f"/operations/{cycle_id}").json()["data"]["status"] not in TERMINAL:
            web.http.delete(f"/operations/{cycle_id}")
        web.wait_terminal(cycle_id, seconds=30)


def _filled(page: Page) -> dict[str, float]:
    """Each slot's filled share of its own width, and the fills' share of the whole bar (read
    in one go: a running cycle's timeline is redrawn with every answer)."""
    shares: dict[str, float] = page.evaluate(
        """() => {
          const bar = document.querySelector(".timeline-bar");
          const width = (n) => n.getBoundingClientRect().width;
          const out = { whole: 0 };
          for (const seg of bar.querySelectorAll(".seg")) {
            const fill = width(seg.querySelector(".seg-fill"));
            out[seg.dataset.phase] = fill / seg.clientWidth;
            out.whole += fill;
          }
          out.whole /= width(bar);
          return out;
        }"""
    )
    return shares


def _colour(page: Page, selector: str) -> str:
    colour: str = page.evaluate(
        "s => getComputedStyle(document.querySelector(s)).backgroundColor", selector
    )
    return colour


def test_a_running_cycle_shows_where_it_is_and_cancel_stops_it(
    web: WebBackend, tab: Tab, running_cycle: str
) -> None:
    page = tab.page
    page.goto(f"{web.url}/operations/{running_cycle}")
    expect(page.locator('li.phase[data-phase="training"]')).to_have_attribute(
        "aria-current", "step", timeout=15000
    )
    # The training child has made some progress: its slot is partly filled.
    page.wait_for_function(
        """() => {
          const fill = document.querySelector('.seg[data-phase="training"] .seg-fill');
          return fill && fill.getBoundingClientRect().width > 2;
        }""",
        timeout=15000,
    )
    shares = _filled(page)
    assert shares["designing"] > 0.97, shares
    assert 0 < shares["training"] < 0.9, shares
    assert shares["backtesting"] == 0 and shares["assessing"] == 0, shares
    assert 0.15 < shares["whole"] < TRAINING_ENDS, shares  # not a full bar at 20 %
    assert page.locator(".seg-ahead").count() == 2

    # One colour per phase: the legend's swatch, the chip's and the bar's fill agree.
    legend = page.locator(".phase-legend li[data-phase]")
    assert legend.all_inner_texts() == PHASES
    for phase in PHASES:
        swatch = _colour(page, f'.phase-legend li[data-phase="{phase}"] .swatch')
        assert _colour(page, f'li.phase[data-phase="{phase}"] .swatch') == swatch, phase
        assert _colour(page, f'.seg[data-phase="{phase}"] .seg-fill') == swatch, phase
    colours = {_colour(page, f'.phase-legend li[data-phase="{p}"] .swatch') for p in PHASES}
    assert len(colours) == len(PHASES), colours

    screenshot(page, f"{web.url}/operations/{running_cycle}", "cycle-running", ".seg-current", 390)
    page.set_viewport_size({"width": 1280, "height": 900})

    # By keyboard: the button opens the question with "Keep running" focused; Escape keeps it.
    cancel = page.get_by_role("button", name=f"Cancel research cycle {running_cycle}")
    dialog = page.locator("dialog.cancel-dialog")
    cancel.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(running_cycle)
    expect(dialog.get_by_role("button", name="Keep running")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert web.http.get(f"/operations/{running_cycle}").json()["data"]["status"] == "running"

    cancel.click()
    dialog.get_by_role("button", name="Cancel it").click()
    expect(page.locator(".cancel-answer")).to_have_text(re.compile("^Cancel asked and recorded"))
    assert web.wait_terminal(running_cycle, seconds=20)["status"] == "cancelled"
    expect(page.locator(".op-header .status")).to_have_text("cancelled", timeout=10000)
    expect(page.get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def _expected_outcome(reason: str) -> str | None:
    """Whether a reason says its test passed, from the symbols the assessment writes."""
    if re.search(r" [<>] |is below|is above|does not|^only ", reason):
        return "failed"
    if re.search(r"[≥≤]|\bbeats\b|unbounded", reason):
        return "passed"
    return None


def test_a_completed_cycle_reads_as_four_sections_with_each_test_marked(
    web: WebBackend, tab: Tab
) -> None:
    cycle = web.completed_cycle()
    result: dict[str, Any] = cycle["result_summary"]
    page = tab.page
    page.goto(f"{web.url}/operations/{cycle['operation_id']}")
    parts = page.locator(".summary-part")
    expect(parts).to_have_count(4)
    assert [p.get_attribute("data-part") for p in parts.all()] == PARTS
    headings = parts.locator("h3").all_inner_texts()
    assert headings == ["Strategy", "Training", "Backtest against buy-and-hold", "Verdict"]
    expect(parts.nth(0)).to_contain_text(result["strategy_name"])
    backtest = page.locator('[data-part="backtest"] table')
    assert backtest.locator("thead th").all_inner_texts() == ["Metric", "Strategy", "Buy & hold"]

    # Every test passed or failed, said in text; the recap of figures is not a test.
    checks = page.locator("ul.checks li")
    recorded = dict(zip(result["reasons"], result["reason_outcomes"], strict=True))
    reasons = [r for r, o in recorded.items() if o != "recap"]
    expect(checks).to_have_count(len(reasons))
    for check, reason in zip(checks.all(), reasons, strict=True):
        outcome = check.get_attribute("data-outcome")
        mark = check.locator(".check-mark").inner_text()
        said = check.locator(".visually-hidden").inner_text()
        assert (outcome, mark, said) in {
            ("passed", "✓", "Passed:"),
            ("failed", "✗", "Failed:"),
            ("caution", "!", "Caution:"),
        }, (outcome, mark, said)
        assert check.inner_text().endswith(reason)
        assert outcome == recorded[reason], (reason, outcome)  # the backend's, not a guess
        assert _expected_outcome(reason) in (None, outcome), (reason, outcome)
    assert {c.get_attribute("data-outcome") for c in checks.all()} >= {"passed", "failed"}

    # One figure, one rounding: time in the market once, as the metrics write it.
    main = page.locator("main").inner_text()
    assert "of the time" not in main
    exposure = backtest.locator("tr", has_text="In the market").locator("td").first
    assert exposure.inner_text() == f"{result['exposure'] * 100:.1f}%"
    # The whole cycle is done: the bar is full, and there is nothing to cancel.
    assert _filled(page)["whole"] > 0.97
    expect(page.get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def test_server_paths_stay_hidden_until_their_toggle_opens(web: WebBackend, tab: Tab) -> None:
    cycle = web.completed_cycle()
    model_path = cycle["result_summary"]["training"]["model_path"]
    page = tab.page
    page.goto(f"{web.url}/operations/{cycle['operation_id']}")
    path = page.get_by_text(model_path, exact=True)
    expect(path).to_be_hidden()
    assert model_path not in page.locator("main").inner_text()
    page.get_by_text("Model files on the server").click()
    expect(path).to_be_visible()
    detail = page.locator('[data-part="backtest"] details.server-paths code')
    expect(detail).to_be_hidden()
    page.locator('[data-part="backtest"] details.server-paths summary').press("Enter")
    expect(detail).to_be_visible()
    expect(detail).to_have_text(cycle["result_summary"]["backtest"]["detail_path"])

    screenshot(
        page,
        f"{web.url}/operations/{cycle['operation_id']}",
        "cycle-completed",
        ".summary-part",
        390,
    )
    page.set_viewport_size({"width": 390, "height": 900})
    page.wait_for_timeout(120)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert tab.log.errors == [], tab.log.errors


# A share as the page writes it everywhere (figures.js): one decimal, and a small one that
# is not zero keeps two significant digits instead of reading "0.0%".
SHARES = {
    0.185: "18.5%",
    0.004: "0.4%",
    0.00042: "0.042%",
    0.0000004: "<0.001%",
    0: "0.0%",
    -0.032: "\u22123.2%",
    1: "100.0%",
}


def test_a_small_share_never_reads_as_zero(web: WebBackend, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{web.url}/results")
    written = page.evaluate(
        "async (fs) => { const { pct } = await import('/static/figures.js'); return fs.map(pct); }",
        list(SHARES),
    )
    assert written == list(SHARES.values())
