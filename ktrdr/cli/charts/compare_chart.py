"""Research cycles side by side (`ktrdr agent compare`): their equity curves normalised to
start at 1.0, overlaid with buy-and-hold, and their validation loss per epoch overlaid, as
curves in plain numbers (``ComparePicture``) and as a braille chart in the terminal.

The terminal chart draws with the backtest chart's own pieces (``terminal``): every curve
is first resampled onto one grid of moments (or epochs) spanning all of them, so curves of
different periods or lengths share one axis; a moment outside a curve's own span is a gap,
which the braille panel skips. Without colour a cycle is drawn with its number (1-5) and
buy-and-hold with dots, so the curves still read apart in a pipe or under NO_COLOR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

from ktrdr.cli.charts.layout import HOLD_LABEL, EquityPicture, _seconds
from ktrdr.cli.charts.terminal import (
    AXIS_STYLE,
    HOLD_GLYPH,
    HOLD_STYLE,
    LABEL_WIDTH,
    MIN_PLOT_COLUMNS,
    _date_axis,
    _money_labels,
    _panel,
)
from ktrdr.contract.pictures import BacktestSeriesPublic, TrainingHistoryPublic

# One colour per compared cycle, in the order given: terminal styles and the pictures' own.
CYCLE_STYLES = ("blue", "magenta", "green", "cyan", "yellow")
CYCLE_COLOURS = ("#1f6feb", "#8250df", "#1a7f37", "#0598bc", "#b35900")
HOLD_KEY = "hold"
TRAINING_TITLE = "validation loss by epoch"


@dataclass(frozen=True)
class Curve:
    """One line: ``key`` is the cycle's number ("1"-"5") or "hold"; ``colour`` indexes
    ``CYCLE_STYLES`` (None: buy-and-hold shared by every cycle)."""

    key: str
    label: str
    xs: list[float]  # seconds since the epoch, or epochs
    ys: list[float]
    colour: int | None

    @property
    def is_hold(self) -> bool:
        return self.key.startswith(HOLD_KEY)


@dataclass(frozen=True)
class ComparePicture:
    title: str
    equity: list[Curve]  # the cycles first, then buy-and-hold
    training: list[Curve]

    @property
    def drawn(self) -> bool:
        return bool(self.equity or self.training)


def _normalised(values: Sequence[float]) -> list[float]:
    """``values`` over the first finite, positive one: a curve that starts at 1.0."""
    base = next((v for v in values if math.isfinite(v) and v > 0), None)
    return [v / base for v in values] if base is not None else []


def _period(series: BacktestSeriesPublic) -> tuple[str, str, str, str]:
    first = series.timestamps[0] if series.timestamps else ""
    last = series.timestamps[-1] if series.timestamps else ""
    return series.symbol, series.timeframe, first, last


def _hold_curves(backtests: list[tuple[int, BacktestSeriesPublic]]) -> list[Curve]:
    """Buy-and-hold once per market and period the cycles tested: one line when they all
    tested the same bars (grey); else one per period, named by its cycles' numbers and in
    the colour of its cycle when only one tested it."""
    groups: dict[tuple[str, str, str, str], list[tuple[int, BacktestSeriesPublic]]] = {}
    for i, series in backtests:
        if _normalised(series.buy_and_hold):
            groups.setdefault(_period(series), []).append((i, series))
    curves = []
    for members in groups.values():
        first, series = members[0]
        numbers = ", ".join(str(i + 1) for i, _ in members)
        label = f"{HOLD_LABEL} {series.symbol}" + (f" ({numbers})" if len(groups) > 1 else "")
        times = [_seconds(t) for t in series.timestamps]
        colour = first if len(members) == 1 and len(groups) > 1 else None
        key = f"{HOLD_KEY}{first + 1}"
        curves.append(Curve(key, label, times, _normalised(series.buy_and_hold), colour))
    return curves


def compare_picture(
    cycles: Sequence[tuple[str, BacktestSeriesPublic | None, TrainingHistoryPublic | None]],
) -> ComparePicture:
    """The curves of ``cycles`` (label, backtest series, training history), in order; a
    cycle without a series or a history simply has no line there."""
    backtests = [(i, s) for i, (_, s, _) in enumerate(cycles) if s is not None]
    equity = [
        Curve(
            str(i + 1), cycles[i][0], [_seconds(t) for t in s.timestamps], _normalised(s.equity), i
        )
        for i, s in backtests
        if _normalised(s.equity)
    ]
    training = []
    for i, (label, _, history) in enumerate(cycles):
        epochs = [e for e in (history.epochs if history else []) if e.val_loss is not None]
        if epochs:
            xs = [float(e.epoch or n + 1) for n, e in enumerate(epochs)]
            ys = [float(e.val_loss or 0.0) for e in epochs]
            training.append(Curve(str(i + 1), label, xs, ys, i))
    return ComparePicture(
        "equity, each starting at 1.0", equity + _hold_curves(backtests), training
    )


def value_range(curves: Sequence[Curve]) -> tuple[float, float]:
    """The lowest and highest value of ``curves``, padded when they are one value."""
    values = [v for c in curves for v in c.ys if math.isfinite(v)]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if high - low < 1e-9:
        return low - 0.05, high + 0.05
    return low, high


def x_range(curves: Sequence[Curve]) -> tuple[float, float]:
    starts = [c.xs[0] for c in curves if c.xs]
    ends = [c.xs[-1] for c in curves if c.xs]
    return (min(starts), max(ends)) if starts else (0.0, 1.0)


def resampled(curve: Curve, grid: Sequence[float]) -> list[float]:
    """``curve`` at each moment of ``grid``: linear between its points, NaN outside them."""
    xs, ys = curve.xs, curve.ys
    out: list[float] = []
    at = 0
    for x in grid:
        if not xs or x < xs[0] or x > xs[-1]:
            out.append(math.nan)
            continue
        while at + 1 < len(xs) and xs[at + 1] < x:
            at += 1
        if at + 1 >= len(xs) or xs[at + 1] == xs[at]:
            out.append(ys[at])
            continue
        share = (x - xs[at]) / (xs[at + 1] - xs[at])
        out.append(ys[at] + (ys[at + 1] - ys[at]) * min(1.0, max(0.0, share)))
    return out


def _style(curve: Curve) -> str:
    if curve.colour is None:
        return HOLD_STYLE
    style = CYCLE_STYLES[curve.colour % len(CYCLE_STYLES)]
    return f"dim {style}" if curve.is_hold else f"bold {style}"


def _plain_glyph(curve: Curve) -> str:
    return HOLD_GLYPH if curve.is_hold else curve.key


def _legend(curves: Sequence[Curve], width: int, color: bool) -> Text:
    """Each curve's mark and label, as many to a line as fit in ``width``."""
    out = Text(no_wrap=True, overflow="crop")
    used = 0
    for curve in curves:
        mark = "⣿" if color else _plain_glyph(curve)
        entry = len(mark) + 1 + len(curve.label)
        if used and used + 3 + entry > width:
            out.append("\n")
            used = 0
        if used:
            out.append("   ")
            used += 3
        out.append(mark + " ", _style(curve) if color else "")
        out.append(curve.label)
        used += entry
    out.append("\n")
    return out


def _rows(
    curves: Sequence[Curve], grid: list[float], rows: int, columns: int, color: bool
) -> list[Text]:
    """One panel of ``curves`` resampled on ``grid``: cycles drawn over buy-and-hold."""
    low, high = value_range(curves)
    frame = EquityPicture(title="", times=grid, equity=[], buy_and_hold=[], drawdown=[])
    # Without colour a series named by a digit is drawn with it, "hold…" with dots
    # (terminal._glyph); the first series passing through a cell is the one shown.
    ordered = sorted(curves, key=lambda c: c.is_hold)
    series = [(c.key, resampled(c, grid), _style(c)) for c in ordered]
    return _panel(frame, series, low, high, rows, columns, _money_labels(low, high, rows), color)


def _grid(curves: Sequence[Curve], points: int) -> list[float]:
    start, end = x_range(curves)
    return [start + (end - start) * i / max(1, points - 1) for i in range(points)]


def _epoch_axis(curves: Sequence[Curve], columns: int) -> str:
    start, end = x_range(curves)
    first, last = f"epoch {start:.0f}", f"{end:.0f}"
    gap = max(1, columns - len(first) - len(last))
    return " " * (LABEL_WIDTH + 1) + first + " " * gap + last


def compare_chart(
    picture: ComparePicture,
    width: int,
    *,
    height: int = 14,
    training_rows: int = 6,
    color: bool = True,
) -> Text:
    """The equity panel (``height`` rows) with its dates, then the validation loss panel
    (``training_rows`` rows, 0: none) with its epochs, each under its own legend."""
    columns = max(MIN_PLOT_COLUMNS, width - LABEL_WIDTH - 1)
    axis = AXIS_STYLE if color else ""
    out = Text(no_wrap=True, overflow="crop")
    panels = [(picture.title, picture.equity, height, True)]
    if training_rows and picture.training:
        panels.append((TRAINING_TITLE, picture.training, training_rows, False))
    for title, curves, rows, dated in panels:
        if not curves:
            continue
        grid = _grid(curves, columns * 2)
        out.append(title + "\n", "bold" if color else "")
        out.append_text(_legend(curves, width, color))
        for line in _rows(curves, grid, rows, columns, color):
            out.append_text(line)
            out.append("\n")
        out.append(" " * LABEL_WIDTH + "└" + "─" * columns + "\n", axis)
        frame = EquityPicture(title="", times=grid, equity=[], buy_and_hold=[], drawdown=[])
        bottom = _date_axis(frame, columns) if dated else _epoch_axis(curves, columns)
        out.append(bottom + "\n\n", axis)
    return out
