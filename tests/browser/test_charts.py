"""The charts (uPlot, shipped in the package) in a real Chromium under the page's CSP: the
hover readout shows the series' own figures at the bar or epoch under the pointer, a drag
zooms and a double-click resets, ticks carry thousands separators and enough decimals,
trade marks sit on a thinned track with a legend, validation curves can be smoothed, and a
chart says "Loading…" or "No epochs yet" rather than drawing empty axes. Screenshots of
the backtest and training pages, light and dark, wide and 390 px, go to the artefacts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.browser.conftest import Tab, WebBackend, artifacts_dir

EQUITY = 'figure[data-chart="equity"]'
DRAWDOWN = 'figure[data-chart="drawdown"]'
LOSS = 'figure[data-chart="loss"]'


def _child(cycle: dict[str, Any], kind: str) -> str:
    return str(cycle["metadata"]["parameters"][f"{kind}_op_id"])


def _hover(page: Page, figure: str, fraction: float) -> int:
    """Point at ``fraction`` of the plot's width (mid height); the index uPlot reads there."""
    over = page.locator(f"{figure} .u-over")
    box = over.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
    index = page.locator(figure).evaluate("f => f.plot.cursor.idx")
    assert isinstance(index, int), index
    return index


def _readout(page: Page, figure: str) -> list[str]:
    return page.locator(f"{figure} .u-legend .u-series td.u-value").all_inner_texts()


def _ticks(figure: Locator, axis: int) -> list[str]:
    # uPlot draws tick labels on the canvas; the texts it drew are kept on the axis.
    values: list[str] = figure.evaluate(f"f => f.plot.axes[{axis}]._values")
    return values


def _x_range(figure: Locator) -> tuple[float, float]:
    low, high = figure.evaluate("f => [f.plot.scales.x.min, f.plot.scales.x.max]")
    return float(low), float(high)


@pytest.fixture
def backtest(web: WebBackend) -> Iterator[tuple[str, dict[str, Any]]]:
    backtest_id = _child(web.completed_cycle(), "backtest")
    series = web.http.get(f"/backtests/{backtest_id}/series?max_points=2000").json()["data"]
    yield backtest_id, series


def test_the_equity_readout_shows_the_series_at_the_bar_under_the_pointer(
    web: WebBackend, tab: Tab, backtest: tuple[str, dict[str, Any]]
) -> None:
    backtest_id, series = backtest
    page = tab.page
    page.goto(f"{web.url}/backtests/{backtest_id}")
    expect(page.locator(f"{EQUITY} .u-over")).to_be_attached(timeout=10000)
    seen = set()
    for fraction in (0.2, 0.55, 0.9):
        i = _hover(page, EQUITY, fraction)
        seen.add(i)
        assert _readout(page, EQUITY) == [
            series["timestamps"][i][:10],
            f"{series['equity'][i]:,.2f}",
            f"{series['buy_and_hold'][i]:,.2f}",
        ]
        j = _hover(page, DRAWDOWN, fraction)
        assert _readout(page, DRAWDOWN) == [
            series["timestamps"][j][:10],
            f"{series['drawdown'][j] * 100:,.2f}%".replace("-0.00%", "0.00%"),
        ]
    assert len(seen) == 3, seen  # three places, three different bars
    equity = page.locator(EQUITY)
    money = _ticks(equity, 1)
    assert any("," in t for t in money) and all(t.replace(",", "").isdigit() for t in money), money
    dates = _ticks(equity, 0)
    assert all(len(d) == 10 and d[4] == "-" and d[7] == "-" for d in dates), dates
    depths = _ticks(page.locator(DRAWDOWN), 1)
    # Enough decimals that no two ticks read the same (no "0%, -0%, -0%").
    assert len(set(depths)) == len(depths) and "-0%" not in depths, depths
    assert all(t.endswith("%") for t in depths), depths
    assert page.locator(f"{EQUITY} .u-legend").inner_text().count("Buy and hold") == 1
    assert tab.log.errors == [] and tab.log.messages == [], tab.log  # no CSP refusals


def test_trade_marks_have_a_legend_and_are_thinned_on_their_own_track(
    web: WebBackend, tab: Tab, backtest: tuple[str, dict[str, Any]]
) -> None:
    backtest_id, series = backtest
    page = tab.page
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{web.url}/backtests/{backtest_id}")
    figure = page.locator(EQUITY)
    expect(figure.locator(".u-over")).to_be_attached(timeout=10000)
    legend = figure.locator(".marks-legend")
    for name in ("Long entry", "Short entry", "Exit"):
        expect(legend).to_contain_text(name)
    trades = len(series["trades"])
    expect(legend).to_contain_text(f"{trades:,} trades")
    shown = int(figure.get_attribute("data-marks-shown") or "0")
    plot_width = figure.locator(".u-over").bounding_box()["width"]  # type: ignore[index]
    # At most one mark per 6 px on each of the two rows, and never more than there are.
    assert 0 < shown <= min(2 * trades, 2 * (plot_width / 6 + 1)), (shown, trades, plot_width)
    # The lowest value of the strategy line stays above the track.
    top_of_track = figure.evaluate(
        "f => { const u = f.plot; const low = Math.min(...u.data[1].filter(Number.isFinite));"
        " return [u.valToPos(low, 'y'), u.bbox.height / devicePixelRatio - 26]; }"
    )
    assert top_of_track[0] <= top_of_track[1], top_of_track


def test_a_drag_zooms_the_equity_chart_and_a_double_click_resets_it(
    web: WebBackend, tab: Tab, backtest: tuple[str, dict[str, Any]]
) -> None:
    backtest_id, _ = backtest
    page = tab.page
    page.goto(f"{web.url}/backtests/{backtest_id}")
    figure = page.locator(EQUITY)
    over = figure.locator(".u-over")
    expect(over).to_be_attached(timeout=10000)
    full = _x_range(figure)
    full_ticks = _ticks(figure, 0)
    box = over.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
    page.mouse.up()
    low, high = _x_range(figure)
    assert full[0] < low < high < full[1], (full, low, high)
    assert (high - low) / (full[1] - full[0]) == pytest.approx(0.2, abs=0.03)
    assert _ticks(figure, 0) != full_ticks
    over.dblclick()
    assert _x_range(figure) == full


def test_the_training_readout_and_its_smoothing(web: WebBackend, tab: Tab) -> None:
    training_id = _child(web.completed_cycle(), "training")
    rows = web.http.get(f"/training/{training_id}/history?max_points=2000").json()["data"]["epochs"]
    page = tab.page
    page.goto(f"{web.url}/operations/{training_id}")
    figure = page.locator(LOSS)
    expect(figure.locator(".u-over")).to_be_attached(timeout=10000)
    i = _hover(page, LOSS, 0.6)
    row = rows[i]
    assert _readout(page, LOSS) == [
        f"{row['epoch']:,}",
        f"{row['train_loss']:,.4f}",
        f"{row['val_loss']:,.4f}",
    ]
    figure.get_by_label("Smooth validation (EMA)").check()
    expect(figure.locator(".u-legend")).to_contain_text("Validation loss (EMA)")
    level = rows[0]["val_loss"]
    for r in rows[1 : i + 1]:  # the same EMA, computed independently
        level = 0.25 * r["val_loss"] + 0.75 * level
    i2 = _hover(page, LOSS, 0.6)
    assert i2 == i
    assert _readout(page, LOSS)[2] == f"{level:,.4f}"
    assert _readout(page, LOSS)[1] == f"{row['train_loss']:,.4f}"  # training is never smoothed
    accuracy = _ticks(page.locator('figure[data-chart="accuracy"]'), 1)
    assert all(t.endswith("%") for t in accuracy), accuracy


def test_a_training_chart_says_loading_then_no_epochs_instead_of_empty_axes(
    web: WebBackend, tab: Tab
) -> None:
    page = tab.page
    held: list[Route] = []
    page.route("**/api/v1/training/*/history*", lambda route: held.append(route))
    page.goto(f"{web.url}/operations/{web.seeded.markup_training}")
    figure = page.locator(LOSS)
    expect(figure.locator(".chart-loading")).to_have_text("Loading…")
    for _ in range(100):  # the read is asked for once the page has drawn the section
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the history was not asked for"
    page.wait_for_timeout(200)  # still loading while the answer is held back
    expect(figure.locator(".chart-loading")).to_have_text("Loading…")
    for route in held:
        route.continue_()
    page.unroute("**/api/v1/training/*/history*")
    expect(figure.locator(".chart-empty")).to_have_text("No epochs yet.")
    assert figure.locator("canvas").count() == 0


def test_screenshots_of_the_charts_light_dark_wide_and_390(
    web: WebBackend, tab: Tab, backtest: tuple[str, dict[str, Any]]
) -> None:
    backtest_id, _ = backtest
    training_id = _child(web.completed_cycle(), "training")
    page, folder = tab.page, artifacts_dir()
    pages = [
        ("backtest", f"/backtests/{backtest_id}", f"{EQUITY} canvas"),
        ("training", f"/operations/{training_id}", f"{LOSS} canvas"),
    ]
    for name, path, ready in pages:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{web.url}{path}")
        page.wait_for_selector(ready)
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            for label, width in (("wide", 1280), ("390", 390)):
                page.set_viewport_size({"width": width, "height": 900})
                page.wait_for_timeout(150)  # charts redraw for the new width on the next frame
                shot = folder / f"charts-{name}-{scheme}-{label}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 5000
                plot_width = page.locator(ready).first.bounding_box()["width"]  # type: ignore[index]
                assert plot_width <= width, (name, plot_width)
                assert page.evaluate("document.documentElement.scrollWidth") <= width, path
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


SMALL_DRAWDOWN = """
async () => {
  const { chartFigure } = await import("/static/chart.js");
  const day = 86400000;
  const x = Array.from({ length: 60 }, (_, i) => Date.UTC(2014, 0, 2) + i * day);
  const values = x.map((_, i) => -0.005 * Math.sin((Math.PI * i) / 59));  // down to -0.5%
  const money = x.map((_, i) => 25000 + 40 * i);
  const make = (spec) => {
    const figure = chartFigure({ time: true, x, ...spec });
    document.body.append(figure);  // outside main, which the page redraws
    return figure;
  };
  const drawdown = make({ id: "t-dd", label: "DD", format: "percent",
    area: { name: "Drawdown", values, cls: "s-drawdown" } });
  const equity = make({ id: "t-eq", label: "Eq", format: "money",
    series: [{ name: "Equity", values: money, cls: "s-equity" }] });
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return { drawdown: drawdown.plot.axes[1]._values, equity: equity.plot.axes[1]._values,
           dates: drawdown.plot.axes[0]._values };
}
"""


def test_ticks_of_a_half_percent_drawdown_and_of_money_read_apart(
    web: WebBackend, tab: Tab
) -> None:
    page = tab.page
    page.goto(f"{web.url}/results")
    ticks = page.evaluate(SMALL_DRAWDOWN)
    depths = ticks["drawdown"]
    # The example: a 0.5% drawdown read "0%, -0%, -0%".
    assert len(depths) >= 3 and len(set(depths)) == len(depths), depths
    assert "-0%" not in depths and any(d.startswith("-0.") for d in depths), depths
    assert all(t.endswith("%") for t in depths), depths
    assert all("," in t and t.replace(",", "").isdigit() for t in ticks["equity"]), ticks
    assert all(d.startswith("2014-0") and len(d) == 10 for d in ticks["dates"]), ticks


def test_a_zoomed_live_training_chart_keeps_its_view_as_epochs_arrive(
    web: WebBackend, tab: Tab
) -> None:
    reply = web.http.post("/training/start", json={"strategy": "trend_momentum", "epochs": 20000})
    op_id = reply.json()["data"]["operation_id"]
    try:
        page = tab.page
        page.goto(f"{web.url}/operations/{op_id}")
        figure = page.locator(LOSS)
        held = "f => (f && f.plot ? f.plot.data[0].length : 0)"
        page.wait_for_function(
            f"() => ({held})(document.querySelector('{LOSS}')) >= 30", timeout=15000
        )
        box = figure.locator(".u-over").bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.2, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
        page.mouse.up()
        zoomed, before = _x_range(figure), figure.evaluate(held)
        page.wait_for_function(
            f"() => ({held})(document.querySelector('{LOSS}')) >= {before + 20}", timeout=15000
        )
        assert _x_range(figure) == zoomed
        figure.locator(".u-over").dblclick()  # and the reset shows every epoch held
        # Read in one go: the next epochs may arrive between two reads.
        low, high, first, last = figure.evaluate(
            "f => { const u = f.plot;"
            " return [u.scales.x.min, u.scales.x.max, u.data[0][0], u.data[0].at(-1)]; }"
        )
        assert low <= first and high >= last and high > zoomed[1], (low, high, first, last)
        assert tab.log.errors == [] and tab.log.messages == [], tab.log
    finally:
        web.http.delete(f"/operations/{op_id}")
        web.wait_terminal(op_id, seconds=5)
