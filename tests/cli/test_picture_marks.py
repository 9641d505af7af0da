"""The backtest picture files (SVG and PNG): the title clear of the legend, every trade's
exit marked (○) as the README promises, the page's palette, and a drawdown axis that
tells half a percent from nothing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

import ktrdr
from ktrdr.cli.charts.layout import EquityPicture, figure_plan
from ktrdr.cli.charts.png import write_png
from ktrdr.cli.charts.show import PNG_SIZE, SVG_SIZE
from ktrdr.cli.charts.svg import equity_svg
from ktrdr.contract.pictures import BacktestSeriesPublic
from tests.support.pictures import daily_series

SVG = "{http://www.w3.org/2000/svg}"
LONG_TITLE = "a_strategy_with_a_name_long_enough_to_reach_the_right_edge_of_any_legend" * 2


def page_palette() -> dict[str, str]:
    """The light theme's custom properties, read from the page's own stylesheet."""
    css = (Path(ktrdr.__file__).parent / "api" / "web" / "ktrdr.css").read_text()
    light = css.split("}", 1)[0]  # the first block: :root, the light theme
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", light))


def series(name: str = "s", dip: float = 0.3) -> BacktestSeriesPublic:
    points = 300
    equity = 100_000 * (1 + 0.2 * np.sin(np.linspace(0, 6, points)))
    return daily_series(
        equity,
        equity * 0.9,
        -dip * np.abs(np.sin(np.linspace(0, 9, points))),
        entries=range(20, 280, 40),
        bars_held=7,
        is_long=lambda i: bool(i % 100),
        benchmark_sharpe=0.4,
        name=name,
    )


def svg_root(picture: EquityPicture) -> ET.Element:
    return ET.fromstring(equity_svg(figure_plan(picture, *SVG_SIZE)))


def test_a_long_title_never_meets_the_legend() -> None:
    root = svg_root(EquityPicture.of(series(name=LONG_TITLE)))
    texts = list(root.iter(f"{SVG}text"))
    title = next(t for t in texts if (t.text or "").startswith(LONG_TITLE))
    legend = [t for t in texts if t.text in ("strategy", "buy & hold", "drawdown", "exit")]
    assert len(legend) == 4
    # 15 px title above, 12 px legend text below: a clear gap between their baselines.
    for text in legend:
        assert float(text.get("y") or 0) - float(title.get("y") or 0) >= 16


def test_every_exit_is_marked_where_the_trade_ended() -> None:
    picture = EquityPicture.of(series())
    plan = figure_plan(picture, *SVG_SIZE)
    root = svg_root(picture)
    rings = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "exit"]
    assert len(rings) == len(picture.trades) + 1  # one per trade, one in the legend
    drawn = sorted(float(c.get("cx") or 0) for c in rings)
    expected = sorted(plan.equity_panel.x(t.exit) for t in picture.trades)
    assert all(any(abs(x - want) < 0.1 for x in drawn) for want in expected)
    entries = [p for p in root.iter(f"{SVG}path") if p.get("class") == "entry"]
    assert len(entries) == len(picture.trades) + 2  # and long and short in the legend


def test_the_svg_uses_the_pages_palette() -> None:
    palette = page_palette()
    root = svg_root(EquityPicture.of(series()))
    hold = next(p for p in root.iter(f"{SVG}polyline") if p.get("stroke-dasharray"))
    assert hold.get("stroke") == palette["s2"]  # the page's buy-and-hold orange
    area = next(p for p in root.iter(f"{SVG}path") if p.get("fill-opacity") == "0.18")
    assert area.get("stroke") == palette["s3"]
    fills = {p.get("fill") for p in root.iter(f"{SVG}path") if p.get("class") == "entry"}
    assert fills == {palette["ok"], palette["bad"]}
    rings = {c.get("stroke") for c in root.iter(f"{SVG}circle")}
    assert rings == {palette["fg"]}


def test_the_png_draws_exits_and_the_orange_buy_and_hold(tmp_path: Path) -> None:
    palette = page_palette()
    picture = EquityPicture.of(series())
    plan = figure_plan(picture, *PNG_SIZE)
    path = tmp_path / "p.png"
    write_png(plan, path)
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)

    def rgb(hex_colour: str) -> np.ndarray:
        return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])

    assert (pixels == rgb(palette["s2"])).all(axis=2).sum() > 300
    ring = (pixels == rgb(palette["fg"])).all(axis=2)
    for mark in plan.exits:
        x, y = round(mark.x), round(mark.y)
        assert ring[y - 5 : y + 6, x - 5 : x + 6].any(), (x, y)


def test_a_half_percent_drawdown_axis_is_not_all_zeros() -> None:
    plan = figure_plan(EquityPicture.of(series(dip=0.005)), *SVG_SIZE)
    ticks = [label.text for label in plan.labels if label.text.endswith("%")]
    assert ticks == ["-1.0%", "-0.5%", "0.0%"]
