"""Pictures of a backtest: the terminal chart at a fixed width, the SVG and PNG files, the
`ktrdr backtest show` command against a real backend, and the summaries' page links."""

from __future__ import annotations

import io
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from ktrdr.backtesting.series import drawdown
from ktrdr.cli.charts.layout import EquityPicture, figure_plan, nice_ticks
from ktrdr.cli.charts.png import write_png
from ktrdr.cli.charts.show import PNG_SIZE, SVG_SIZE, write_picture
from ktrdr.cli.charts.svg import equity_svg
from ktrdr.cli.charts.terminal import BRAILLE_BASE, HOLD_GLYPH, equity_chart
from ktrdr.cli.views import PlainRenderer
from ktrdr.cli.views.outcomes import outcome_lines
from ktrdr.client.follow import ViewState
from ktrdr.contract.pictures import BacktestSeriesPublic
from tests.support.live_backend import LiveBackend, run_ktrdr
from tests.support.pictures import daily_series
from tests.support.snapshots import snapshot

HOSTILE_NAME = "<img src=x onerror=alert(1)> & co"
ANSI = re.compile(r"\x1b\[")


def series(points: int = 600, name: str = "rsi_mean_reversion") -> BacktestSeriesPublic:
    rng = np.random.default_rng(3)
    equity = 100_000 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, points)))
    held = 100_000 * np.exp(np.cumsum(rng.normal(0.0004, 0.012, points)))
    return daily_series(
        equity,
        held,
        drawdown(equity, 100_000.0),
        entries=range(10, points - 10, 50),
        bars_held=5,
        is_long=lambda i: bool(i % 2),
        benchmark_sharpe=0.7,
        name=name,
    )


def braille_count(text: str) -> int:
    return sum(1 for char in text if BRAILLE_BASE < ord(char) <= BRAILLE_BASE + 0xFF)


# --- the terminal chart ----------------------------------------------------------------


def test_the_terminal_chart_fits_its_width_with_curves_labels_and_legend() -> None:
    picture = EquityPicture.of(series())
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system="truecolor")
    console.print(equity_chart(picture, 80), soft_wrap=True, crop=False)
    coloured = out.getvalue()
    assert ANSI.search(coloured)  # colour on a terminal
    plain = ANSI.sub("", re.sub(r"\x1b\[[0-9;]*m", "", coloured))
    lines = plain.splitlines()
    assert all(len(line) <= 80 for line in lines), max(len(line) for line in lines)
    assert braille_count(plain) > 150  # both curves and the drawdown drawn
    assert "strategy" in lines[1] and "buy & hold" in lines[1] and "drawdown" in lines[1]
    assert lines[0].startswith("rsi_mean_reversion  SP500 1d  2014-01-02 → ")
    # Round values on the axis (e.g. "100k" and "120k"), 0 % and the deepest drawdown.
    assert len(re.findall(r"\d+(?:\.\d+)?k┤", plain)) >= 2
    assert "0%┤" in plain
    deepest = min(picture.drawdown)
    assert f"{deepest * 100:.0f}%┤" in plain
    # Dates under the axis: the first at the left, the last at the right.
    assert "2014-01" in lines[-1] and "2015-" in lines[-1]


def test_without_colour_the_chart_is_plain_text_and_the_curves_still_differ() -> None:
    picture = EquityPicture.of(series())
    text = equity_chart(picture, 72, color=False)
    out = io.StringIO()
    Console(file=out, width=72, force_terminal=True).print(text, soft_wrap=True, crop=False)
    assert not ANSI.search(out.getvalue())
    assert HOLD_GLYPH in text.plain and braille_count(text.plain) > 50
    assert f"{HOLD_GLYPH} buy & hold" in text.plain


def test_a_narrow_terminal_still_gets_a_chart() -> None:
    text = equity_chart(EquityPicture.of(series(points=30)), 20, color=False).plain
    assert braille_count(text) > 0 and "2014-01-02" not in text.splitlines()[-1][:4]


def test_nice_ticks_are_round_and_inside() -> None:
    assert nice_ticks(93_500.0, 141_200.0, 6) == [
        100_000.0,
        110_000.0,
        120_000.0,
        130_000.0,
        140_000.0,
    ]
    assert nice_ticks(-0.31, 0.0, 3) == [-0.2, 0.0]


# --- files -------------------------------------------------------------------------------


def test_the_svg_is_valid_xml_with_long_curves_and_escaped_text() -> None:
    picture = EquityPicture.of(series(name=HOSTILE_NAME))
    document = equity_svg(figure_plan(picture, *SVG_SIZE))
    root = ET.fromstring(document)  # parses: the hostile name did not break the markup
    ns = {"svg": "http://www.w3.org/2000/svg"}
    assert root.get("width") == str(SVG_SIZE[0]) and root.get("height") == str(SVG_SIZE[1])
    lines = root.findall(".//svg:polyline", ns)
    assert len(lines) == 2  # equity and buy-and-hold
    for line in lines:
        assert len((line.get("points") or "").split()) == 600
    paths = root.findall(".//svg:path", ns)
    assert len(paths) >= 1 + len(picture.trades)  # the drawdown area and a mark per trade
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(t and t.startswith(HOSTILE_NAME) for t in texts)
    assert "<img" not in document and "&lt;img" in document
    assert root.find("svg:title", ns) is not None


def test_the_png_has_the_size_and_draws_the_curves(tmp_path: Path) -> None:
    path = tmp_path / "equity.png"
    write_png(figure_plan(EquityPicture.of(series()), *PNG_SIZE), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == PNG_SIZE
        pixels = np.asarray(image.convert("RGB"))
    background = (pixels == 255).all(axis=2)
    assert (~background).sum() > 5_000  # lines, the drawdown area, labels
    blue = (pixels[:, :, 2] > 180) & (pixels[:, :, 0] < 80)
    assert blue.sum() > 500  # the equity curve's colour


def test_an_unwritable_picture_path_is_a_clean_error(tmp_path: Path) -> None:
    from ktrdr.errors import KtrdrError

    with pytest.raises(KtrdrError) as refused:
        write_picture(series(), tmp_path / "missing" / "x.svg", None)
    assert refused.value.code == "picture_not_written"


# --- the summaries point to the page -----------------------------------------------------


def test_a_completed_cycle_and_backtest_end_with_their_page_url() -> None:
    base = "http://127.0.0.1:8000"
    cycle = snapshot("op_agent_research_1", status="completed", pct=100, summary={})
    lines = outcome_lines(ViewState("op_agent_research_1", parent=cycle, done=True), base_url=base)
    assert lines[0][0] == "✓ Research cycle complete!"
    assert lines[-1][0] == f"View: {base}/operations/op_agent_research_1"
    backtest = snapshot("op_bt", op_type="backtesting", status="completed", pct=100, summary={})
    lines = outcome_lines(ViewState("op_bt", parent=backtest, done=True), base_url=base)
    assert lines[-1][0] == f"View: {base}/backtests/op_bt"
    training = snapshot("op_tr", op_type="training", status="completed", pct=100, summary={})
    lines = outcome_lines(ViewState("op_tr", parent=training, done=True), base_url=base)
    assert lines[-1][0] == f"View: {base}/operations/op_tr"
    failed = snapshot("op_agent_research_1", status="failed", error="boom")
    lines = outcome_lines(ViewState("op_agent_research_1", parent=failed), base_url=base)
    assert not any("View:" in text for text, _ in lines)

    out = io.StringIO()
    renderer = PlainRenderer(Console(file=out, width=120))
    renderer.finish(
        outcome_lines(ViewState("op_agent_research_1", parent=cycle, done=True), base_url=base)
    )
    assert out.getvalue().splitlines()[-1] == f"View: {base}/operations/op_agent_research_1"


# --- the command, against a real backend ------------------------------------------------


def ktrdr(backend: LiveBackend, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ktrdr(backend.env, *args, timeout=120)


def test_backtest_show_draws_the_curve_and_writes_the_files(
    backend: LiveBackend, tmp_path: Path
) -> None:
    trained = ktrdr(backend, "model", "train", "rsi_mean_reversion", "--epochs", "5")
    assert trained.returncode == 0, trained.stderr
    ran = ktrdr(backend, "backtest", "run", "rsi_mean_reversion", "--plain")
    assert ran.returncode == 0, ran.stderr
    found = re.search(rf"View: {re.escape(backend.url)}/backtests/(op_backtesting_\w+)", ran.stdout)
    assert found, ran.stdout
    backtest_id = found.group(1)

    svg, png = tmp_path / "equity.svg", tmp_path / "equity.png"
    shown = ktrdr(backend, "backtest", "show", backtest_id, "--svg", str(svg), "--png", str(png))
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert not ANSI.search(out)  # a pipe: plain text
    assert "Sharpe: " in out and "Buy & hold, same bars" in out
    assert braille_count(out) > 100 and HOLD_GLYPH in out
    assert f"View: {backend.url}/backtests/{backtest_id}" in out
    assert f"Wrote {svg}" in out and f"Wrote {png}" in out
    root = ET.fromstring(svg.read_text())
    assert (
        max(
            len((p.get("points") or "").split())
            for p in root.iter("{http://www.w3.org/2000/svg}polyline")
        )
        > 500
    )
    with Image.open(png) as image:
        assert image.size == PNG_SIZE

    as_json = ktrdr(backend, "backtest", "show", backtest_id, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["operation_id"] == backtest_id

    # Errors: one line, no traceback, the usual exit codes.
    malformed = ktrdr(backend, "backtest", "show", "x/../y")
    assert malformed.returncode == 2 and "Traceback" not in malformed.stderr
    unknown = ktrdr(backend, "backtest", "show", "op_backtesting_20240101_000000_deadbeef")
    assert unknown.returncode == 1 and "not found" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    training_id = json.loads(ktrdr(backend, "ops", "list", "--type", "training", "--json").stdout)[
        0
    ]["operation_id"]
    not_backtest = ktrdr(backend, "backtest", "show", training_id)
    assert not_backtest.returncode != 0 and "not a backtest" in not_backtest.stderr
    unwritable = ktrdr(
        backend, "backtest", "show", backtest_id, "--svg", str(tmp_path / "no" / "x")
    )
    assert unwritable.returncode == 1 and "cannot write the picture" in unwritable.stderr
