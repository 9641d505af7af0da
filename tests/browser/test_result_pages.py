"""A completed research cycle, the results table and a backtest in a real Chromium: the
phase timeline, the training chart and the equity curve are drawn (uPlot charts holding
every point), the table sorts, nothing is logged as an error; screenshots of every page in light
and dark, wide and phone-narrow, go to the artefacts folder."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import Tab, WebBackend, screenshot


def _child(cycle: dict[str, Any], kind: str) -> str:
    return str(cycle["metadata"]["parameters"][f"{kind}_op_id"])


def _charted(page: Page, chart: str) -> list[int]:
    """Points in each line of a chart (after it has drawn)."""
    figure = page.locator(f'figure[data-chart="{chart}"]')
    expect(figure.locator("canvas")).to_be_attached()
    counts: list[int] = figure.evaluate(
        "f => f.plot.data.slice(1).map(s => s.filter(v => v !== null).length)"
    )
    return counts


def test_a_completed_cycle_shows_its_phases_training_chart_and_equity_curve(
    web: WebBackend, tab: Tab
) -> None:
    cycle = web.completed_cycle()
    epochs = cycle["result_summary"]["training"]["epochs"]
    page = tab.page
    page.goto(f"{web.url}/operations/{cycle['operation_id']}")
    expect(page.locator(".op-header .status")).to_have_text("completed")

    phases = page.locator("ol.phases li")
    expect(phases).to_have_count(4)
    assert [p.get_attribute("data-phase") for p in phases.all()] == [
        "designing",
        "training",
        "backtesting",
        "assessing",
    ]
    for phase in phases.all():
        assert "phase-done" in (phase.get_attribute("class") or "")
        assert phase.locator(".phase-time").inner_text() != "–"
    assert page.locator(".timeline-bar .seg").count() == 4

    expect(page.locator('figure[data-chart="equity"]')).to_be_visible(timeout=10000)
    loss = _charted(page, "loss")
    accuracy = _charted(page, "accuracy")
    assert loss == [epochs, epochs] and accuracy == [epochs, epochs], (loss, accuracy, epochs)
    equity = _charted(page, "equity")
    assert len(equity) == 2 and min(equity) > 100, equity  # strategy and buy-and-hold
    drawdown = _charted(page, "drawdown")
    assert len(drawdown) == 1 and drawdown[0] > 100, drawdown
    assert page.locator('figure[data-chart="drawdown"]').evaluate("f => !!f.plot.series[1].fill")
    label = page.locator('figure[data-chart="equity"] .chart-box').get_attribute("aria-label") or ""
    assert "Equity from" in label and "buy-and-hold" in label
    children = page.locator("ul.children li")
    expect(children).to_have_count(2)
    assert page.locator(f'a[href="/operations/{_child(cycle, "training")}"]').count() >= 1
    assert page.locator(f'a[href="/backtests/{_child(cycle, "backtest")}"]').count() >= 1
    assert page.locator("table.result").count() == 1
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def test_results_sort_by_column_and_link_to_the_backtest_page(web: WebBackend, tab: Tab) -> None:
    cycle = web.completed_cycle()
    backtest_id = _child(cycle, "backtest")
    page = tab.page
    page.goto(f"{web.url}/results")
    row = page.locator(f'tbody tr[data-id="{cycle["operation_id"]}"]')
    expect(row).to_be_visible()
    sharpe = page.locator('th[data-key="sharpe"]')
    sharpe.get_by_role("button").click()
    expect(sharpe).to_have_attribute("aria-sort", "descending")
    cells = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
    values = [float(c) for c in cells if c != "–"]
    assert values == sorted(values, reverse=True), cells
    sharpe.get_by_role("button").press("Enter")  # by keyboard too
    expect(sharpe).to_have_attribute("aria-sort", "ascending")
    cells = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
    values = [float(c) for c in cells if c != "–"]
    assert values == sorted(values), cells

    row.get_by_role("link", name="backtest").click()
    page.wait_for_url(f"{web.url}/backtests/{backtest_id}")
    equity = _charted(page, "equity")
    assert min(equity) > 100, equity
    shown = page.locator('figure[data-chart="equity"]').get_attribute("data-marks-shown")
    assert int(shown or "0") >= 2  # each trade's entry and exit
    expect(page.locator("table.metrics")).to_contain_text("Sharpe")
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def test_every_page_is_screenshot_light_and_dark_wide_and_narrow(web: WebBackend, tab: Tab) -> None:
    cycle = web.completed_cycle()
    equity, loss = 'figure[data-chart="equity"] canvas', 'figure[data-chart="loss"] canvas'
    pages = [
        ("operations", "/", "tbody tr"),
        ("cycle", f"/operations/{cycle['operation_id']}", equity),
        ("training", f"/operations/{_child(cycle, 'training')}", loss),
        ("results", "/results", "tbody tr"),
        ("backtest", f"/backtests/{_child(cycle, 'backtest')}", equity),
        # Beside it, the seeded cycle whose name is markup (shown as text, no curves).
        ("compare", f"/compare?ids={cycle['operation_id']},{web.seeded.markup_cycle}", "table"),
    ]
    written = []
    for name, path, ready in pages:
        written += screenshot(tab.page, f"{web.url}{path}", name, ready)
    assert len(written) == 24
    assert all(p.stat().st_size > 5000 for p in written)

    # At 375 px nothing but the tables' own scroll areas may scroll sideways.
    page = tab.page
    page.set_viewport_size({"width": 375, "height": 800})
    for _, path, ready in pages:
        page.goto(f"{web.url}{path}")
        page.wait_for_selector(ready)
        page.wait_for_timeout(120)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    assert tab.log.errors == [], tab.log.errors


def test_at_390_px_results_keep_the_strategy_verdict_and_sharpe_in_view(
    web: WebBackend, tab: Tab
) -> None:
    """On a phone the table scrolls sideways inside its box; what a row is judged by (the
    strategy, its verdict, its Sharpe) is inside the first screen of it."""
    cycle = web.completed_cycle()
    page = tab.page
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{web.url}/results")
    row = page.locator(f'tbody tr[data-id="{cycle["operation_id"]}"]')
    expect(row).to_be_visible()
    for key in ("strategy", "verdict", "sharpe"):
        box = page.locator(f'th[data-key="{key}"]').bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (key, box)
    name = row.locator("td.col-strategy .pick-label")
    assert name.get_attribute("title") == cycle["result_summary"]["strategy_name"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
