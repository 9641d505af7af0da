"""Research cycles side by side at /compare in a real Chromium, against a backend that ran
three real research cycles and a small walk-forward one: ticking three rows on /results and
pressing Compare opens /compare?ids=… with those ids; the equity chart holds a line per
cycle, each starting at 1.0, and one buy-and-hold line they share; the training charts
overlay a line per cycle; the table has a column per cycle whose Sharpe is the API's, the
best marked; a walk-forward cycle says its figures are the holdout's; a bad address says
what is wrong; at 390 px the page does not scroll sideways. Screenshots go to the
artefacts folder."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TERMINAL, Tab, screenshot
from tests.support.live_backend import LiveBackend

PLAIN_SEEDS = (1, 2, 3)
EPOCHS = 20
NARROW = 390


@dataclass
class Cycles:
    url: str
    plain: list[dict[str, Any]]  # completed single-split cycles, as GET /operations/{id}
    walk_forward: dict[str, Any]


def _finish(http: httpx.Client, ids: list[str], seconds: float = 90) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(ids) and time.monotonic() < deadline:
        for op_id in set(ids) - set(done):
            op: dict[str, Any] = http.get(f"/operations/{op_id}").json()["data"]
            if op["status"] in TERMINAL:
                assert op["status"] == "completed", op["error_message"]
                done[op_id] = op
        time.sleep(0.1)
    assert len(done) == len(ids), f"cycles still running after {seconds}s"
    return [done[i] for i in ids]


@pytest.fixture(scope="module")
def cycles(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[Cycles]:
    root = tmp_path_factory.mktemp("compare-backend")
    backend = LiveBackend(root)
    backend.env["KTRDR_MAX_ACTIVE_CYCLES"] = "4"  # all four at once
    backend.start()
    try:
        with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
            bodies = [{"folds": 0, "seed": s, "epochs": EPOCHS} for s in PLAIN_SEEDS]
            bodies.append({"folds": 2, "candidates": 1, "seed": 7, "epochs": EPOCHS})
            ids = []
            for body in bodies:
                reply = http.post("/agent/trigger", json=body)
                assert reply.status_code == 202, reply.text
                ids.append(str(reply.json()["data"]["operation_id"]))
            ops = _finish(http, ids)
            yield Cycles(backend.url, ops[:3], ops[3])
    finally:
        backend.kill()


def _address(ids: list[str]) -> str:
    return "/compare?ids=" + ",".join(ids)


def _plot(page: Page, chart: str) -> dict[str, Any]:
    """A drawn chart's series names and values (after it has drawn)."""
    figure = page.locator(f'figure[data-chart="{chart}"]')
    expect(figure.locator("canvas")).to_be_attached()
    drawn: dict[str, Any] = figure.evaluate(
        "f => ({names: f.plot.series.slice(1).map(s => s.label), data: f.plot.data.slice(1),"
        " strokes: f.plot.series.slice(1).map(s => s.stroke()), holds: f.dataset.holdLines})"
    )
    return drawn


def _open(tab: Tab, url: str) -> Page:
    tab.page.goto(url)
    return tab.page


def _first(values: list[float | None]) -> float:
    return next(v for v in values if v is not None)


def test_ticking_three_results_and_pressing_compare_opens_their_address(
    cycles: Cycles, tab: Tab
) -> None:
    page = _open(tab, f"{cycles.url}/results")
    button = page.locator("button.compare-button")
    expect(button).to_be_disabled()
    expect(page.locator("#compare-hint")).to_contain_text("Tick 2 to 5")
    chosen = [c["operation_id"] for c in cycles.plain]
    page.locator(f'tr[data-id="{chosen[0]}"] input.pick').check()
    expect(button).to_have_text("Compare (1)")
    expect(button).to_be_disabled()
    expect(page.locator("#compare-hint")).to_contain_text("at least 1 more")
    for op_id in chosen[1:]:
        page.locator(f'tr[data-id="{op_id}"] input.pick').check()
    expect(button).to_be_enabled()
    page.locator('th[data-key="sharpe"] button').click()  # re-sorting keeps the ticks
    expect(page.locator("input.pick:checked")).to_have_count(3)
    button.click()
    page.wait_for_url(f"{cycles.url}{_address(chosen)}")
    expect(page.locator("table.cmp-table")).to_be_visible()
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def test_the_charts_and_the_table_show_each_cycle_in_its_colour(cycles: Cycles, tab: Tab) -> None:
    ids = [c["operation_id"] for c in cycles.plain]
    page = _open(tab, cycles.url + _address(ids))
    equity = _plot(page, "compare-equity")
    # A line per cycle, then one buy-and-hold for all three (same market, bars and outcome).
    assert len(equity["names"]) == 4 and equity["holds"] == "1", equity["names"]
    for op, name, values in zip(cycles.plain, equity["names"], equity["data"], strict=False):
        assert name.endswith(op["operation_id"].rsplit("_", 1)[1])
        assert name.startswith(op["result_summary"]["strategy_name"])
        # Over its first value: it starts at 1.0 and moves as the equity does (a cost paid
        # on the first bar moves the end by at most that cost).
        assert _first(values) == 1.0
        end = 1 + op["result_summary"]["total_return"]
        assert [v for v in values if v is not None][-1] == pytest.approx(end, rel=0.002)
    hold = [v for v in equity["data"][3] if v is not None]
    benchmark = cycles.plain[0]["result_summary"]["benchmark"]["total_return"]
    assert hold[0] == 1.0 and hold[-1] == pytest.approx(1 + benchmark, rel=0.002)
    colours = equity["strokes"][:3]
    assert len(set(colours)) == 3, colours

    for chart in ("compare-loss", "compare-accuracy"):
        training = _plot(page, chart)
        assert len(training["names"]) == 3 and training["strokes"] == colours, training["names"]
        assert all(sum(v is not None for v in s) == EPOCHS for s in training["data"])

    heads = page.locator("table.cmp-table thead th.cmp-head")
    expect(heads).to_have_count(3)
    assert [h.get_attribute("data-id") for h in heads.all()] == ids
    sharpe = page.locator('tr[data-row="sharpe"] td')
    shown = [float(v or "nan") for v in sharpe.evaluate_all("tds => tds.map(t => t.dataset.value)")]
    assert shown == [op["result_summary"]["sharpe_ratio"] for op in cycles.plain]
    best = max(range(3), key=lambda i: shown[i])
    marked = sharpe.evaluate_all("tds => tds.map(t => t.classList.contains('cmp-best'))")
    assert [i for i, m in enumerate(marked) if m] == [best]
    assert page.locator('tr[data-row="dsr"]').count() == 0  # no cycle here has it
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def test_a_walk_forward_cycle_shows_its_holdout_and_statistics(cycles: Cycles, tab: Tab) -> None:
    walk = cycles.walk_forward
    page = _open(
        tab, cycles.url + _address([walk["operation_id"], cycles.plain[0]["operation_id"]])
    )
    head = page.locator("th.cmp-head").first
    expect(head).to_contain_text("walk-forward: holdout")
    expect(page.locator("ul.cmp-notes")).to_contain_text("holdout")
    source = page.locator('tr[data-row="source"] td').first
    expect(source).to_contain_text("walk-forward holdout, out of sample")
    dsr = walk["result_summary"]["statistics"]["deflated_sharpe"]["probability"]
    cell = page.locator('tr[data-row="dsr"] td').first
    assert float(cell.get_attribute("data-value") or "nan") == dsr
    equity = _plot(page, "compare-equity")
    assert equity["holds"] == "2"  # the holdout is another period: its own buy-and-hold
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def _bad_addresses(cycles: Cycles) -> dict[str, str]:
    one = cycles.plain[0]["operation_id"]
    training = cycles.plain[0]["metadata"]["parameters"]["training_op_id"]
    six = ",".join(f"op_x{i}" for i in range(6))
    return {
        "/compare": "names none",
        f"/compare?ids={one}": "names 1",
        f"/compare?ids={six}": "names 6",
        f"/compare?ids={one},<img>": "is not an operation id",
        f"/compare?ids={one},{one}": "named twice",
        f"/compare?ids={one},op_agent_research_nope": "no operation has this id",
        f"/compare?ids={one},{training}": "is not a research cycle",
    }


def test_a_bad_address_says_what_is_wrong(cycles: Cycles, tab: Tab) -> None:
    page = tab.page
    for path, words in _bad_addresses(cycles).items():
        page.goto(cycles.url + path)
        problem = page.locator(".cmp-problems")
        expect(problem).to_contain_text(words)
        expect(page.get_by_role("link", name="Results").last).to_be_visible()
    assert tab.log.errors == [], tab.log.errors
    # The unknown id's 404 is the one thing the browser itself logs.
    assert all("404" in m for m in tab.log.messages), tab.log.messages


def test_screenshots_and_no_sideways_scroll_at_390_px(cycles: Cycles, tab: Tab) -> None:
    ids = [c["operation_id"] for c in cycles.plain] + [cycles.walk_forward["operation_id"]]
    page = tab.page
    ready = 'figure[data-chart="compare-accuracy"] canvas'
    written: list[Path] = screenshot(
        page, cycles.url + _address(ids), "compare-cycles", ready, NARROW
    )
    written += screenshot(
        page, f"{cycles.url}/compare?ids=op_a", "compare-bad-address", ".cmp-problems", NARROW
    )
    assert len(written) == 8 and all(p.stat().st_size > 5000 for p in written)
    page.set_viewport_size({"width": NARROW, "height": 800})
    page.goto(cycles.url + _address(ids))
    page.wait_for_selector(ready)
    page.wait_for_timeout(150)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW
    region = page.locator(".cmp-figures .table-scroll")
    # The table scrolls inside its own box instead.
    assert region.evaluate("r => r.scrollWidth > r.clientWidth")
    assert tab.log.errors == [], tab.log.errors
