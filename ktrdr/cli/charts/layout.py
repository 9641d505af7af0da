"""The picture of a backtest as geometry, before any drawing: what the terminal chart, the
SVG and the PNG share.

``EquityPicture`` is the data (times as seconds, the curves, the trades) taken from the
API's series; ``nice_ticks``, ``date_ticks`` and the value formats pick the axis labels;
``figure_plan`` lays the picture out on a canvas of a given size in pixels (an equity
panel with buy-and-hold, a drawdown panel under it, trade marks, axes and a legend) as
plain points and strings, so each file format only has to draw them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ktrdr.contract.pictures import BacktestSeriesPublic

Point = tuple[float, float]

STRATEGY_LABEL = "strategy"
HOLD_LABEL = "buy & hold"
DRAWDOWN_LABEL = "drawdown"
# The trade marks' legend, as the page words it: entries by direction, exits alike.
LONG_LABEL = "long entry"
SHORT_LABEL = "short entry"
EXIT_LABEL = "exit"
TITLE_BASELINE = 22.0
LEGEND_BASELINE = 42.0  # a row of its own under the title: a long title never meets it


def _seconds(iso: str) -> float:
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class TradeMark:
    entry: float  # seconds
    exit: float
    long: bool
    net_return: float


@dataclass(frozen=True)
class EquityPicture:
    """What every picture of a backtest draws, in plain numbers."""

    title: str
    times: list[float]  # seconds since the epoch, increasing
    equity: list[float]
    buy_and_hold: list[float]  # empty when the backtest did not record it
    drawdown: list[float]  # <= 0
    trades: list[TradeMark] = field(default_factory=list)

    @classmethod
    def of(cls, series: BacktestSeriesPublic) -> EquityPicture:
        name = series.strategy_name or "backtest"
        span = ""
        if series.timestamps:
            span = f"  {series.timestamps[0][:10]} → {series.timestamps[-1][:10]}"
        return cls(
            title=f"{name}  {series.symbol} {series.timeframe}{span}",
            times=[_seconds(t) for t in series.timestamps],
            equity=list(series.equity),
            buy_and_hold=list(series.buy_and_hold),
            drawdown=list(series.drawdown),
            trades=[
                TradeMark(
                    _seconds(t.entry_time),
                    _seconds(t.exit_time),
                    t.direction == "long",
                    t.net_return,
                )
                for t in series.trades
            ],
        )

    def value_range(self) -> tuple[float, float]:
        """The lowest and highest of both curves (never an empty range)."""
        values = [v for v in (*self.equity, *self.buy_and_hold) if math.isfinite(v)]
        if not values:
            return 0.0, 1.0
        low, high = min(values), max(values)
        if high - low < 1e-12 * max(abs(high), 1.0):
            pad = max(abs(high) * 0.01, 1.0)
            return low - pad, high + pad
        return low, high

    def equity_at(self, moment: float) -> float:
        """The equity at ``moment`` (linear between the points kept, clamped at the ends)."""
        times, values = self.times, self.equity
        if not times:
            return 0.0
        if moment <= times[0]:
            return values[0]
        if moment >= times[-1]:
            return values[-1]
        lo, hi = 0, len(times) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if times[mid] <= moment:
                lo = mid
            else:
                hi = mid
        span = times[hi] - times[lo]
        share = (moment - times[lo]) / span if span > 0 else 0.0
        return values[lo] + (values[hi] - values[lo]) * share


# --- axes ------------------------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (steps of 1, 2 or 5 times a power of ten) within
    [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low or count < 2:
        return [low]
    raw = (high - low) / (count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value = first + step * len(ticks)
    return ticks


def money(value: float) -> str:
    """An equity figure short enough for an axis: 98.5k, 1.25M, 950."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e4:
        return f"{value / 1e3:.4g}k"
    if size >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def percent_label(value: float, decimals: int | None = None) -> str:
    """-0.31 -> "-31%", -0.005 -> "-0.5%": below 10% a decimal, so that a small drawdown
    does not read "0%" (``decimals`` fixes it, for the ticks of one axis)."""
    if decimals is None:
        size = abs(value)
        decimals = 2 if 0 < size < 0.000995 else 1 if 0 < size < 0.0995 else 0
    text = f"{value * 100:.{decimals}f}%"
    return text[1:] if text.startswith("-") and float(text[:-1]) == 0 else text


def tick_decimals(ticks: Sequence[float]) -> int:
    """Decimals enough to tell ``ticks`` (percent fractions) apart: none for steps of 1%
    or more, one for 0.1%, two below; the same for every tick of an axis."""
    steps = [abs(b - a) for a, b in zip(ticks, ticks[1:], strict=False) if b != a]
    if not steps:
        return 0
    return max(0, min(2, -math.floor(math.log10(min(steps) * 100) + 1e-9)))


def date_label(moment: float, span_seconds: float) -> str:
    day = datetime.fromtimestamp(moment, tz=UTC)
    if span_seconds > 3 * 365 * 86400:
        return day.strftime("%Y-%m")
    if span_seconds > 3 * 86400:
        return day.strftime("%Y-%m-%d")
    return day.strftime("%m-%d %H:%M")


def date_ticks(start: float, end: float, count: int) -> list[tuple[float, str]]:
    """``count`` evenly spaced moments from ``start`` to ``end`` with their labels."""
    if count < 2 or end <= start:
        return [(start, date_label(start, 0.0))]
    span = end - start
    return [
        (start + span * i / (count - 1), date_label(start + span * i / (count - 1), span))
        for i in range(count)
    ]


# --- a laid-out figure ---------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """A rectangle of the canvas showing values ``low..high`` over times ``start..end``."""

    left: float
    top: float
    right: float
    bottom: float
    start: float
    end: float
    low: float
    high: float

    def x(self, moment: float) -> float:
        span = self.end - self.start
        share = (moment - self.start) / span if span > 0 else 0.5
        return self.left + share * (self.right - self.left)

    def y(self, value: float) -> float:
        span = self.high - self.low
        share = (value - self.low) / span if span > 0 else 0.5
        return self.bottom - share * (self.bottom - self.top)

    def points(self, times: Sequence[float], values: Sequence[float]) -> list[Point]:
        return [(self.x(t), self.y(v)) for t, v in zip(times, values, strict=False)]


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str  # "start" | "middle" | "end"


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    long: bool


@dataclass(frozen=True)
class FigurePlan:
    """Everything to draw, in canvas pixels (y grows downwards)."""

    width: int
    height: int
    title: Label
    equity_panel: Panel
    drawdown_panel: Panel
    equity: list[Point]
    buy_and_hold: list[Point]
    drawdown: list[Point]
    grid: list[tuple[Point, Point]]  # horizontal grid lines of both panels
    labels: list[Label]  # axis values and dates
    # (key, text): "equity", "hold", "drawdown" (lines), then "long", "short", "exit"
    # (trade marks, when there are trades); drawn left to right from ``title.x``
    legend: list[tuple[str, str]]
    entries: list[Marker]
    exits: list[Marker] = field(default_factory=list)


def figure_plan(picture: EquityPicture, width: int, height: int) -> FigurePlan:
    """Lay ``picture`` out on a ``width`` x ``height`` canvas: a title and legend on top,
    equity and buy-and-hold in the upper two thirds, the drawdown under it, dates below."""
    left, right = 72.0, width - 16.0
    top = LEGEND_BASELINE + 20.0
    bottom = height - 34.0
    split = top + (bottom - top) * 0.68
    start = picture.times[0] if picture.times else 0.0
    end = picture.times[-1] if picture.times else 1.0
    low, high = picture.value_range()
    deepest = min([0.0, *picture.drawdown])
    equity_panel = Panel(left, top, right, split - 22.0, start, end, low, high)
    drawdown_panel = Panel(left, split, right, bottom, start, end, min(deepest, -0.01), 0.0)

    grid: list[tuple[Point, Point]] = []
    labels: list[Label] = []
    for value in nice_ticks(low, high, 6):
        y = equity_panel.y(value)
        grid.append(((left, y), (right, y)))
        labels.append(Label(left - 6, y + 4, money(value), "end"))
    dd_ticks = nice_ticks(drawdown_panel.low, 0.0, 3)
    decimals = tick_decimals(dd_ticks)
    for value in dd_ticks:
        y = drawdown_panel.y(value)
        grid.append(((left, y), (right, y)))
        labels.append(Label(left - 6, y + 4, percent_label(value, decimals), "end"))
    ticks = max(2, min(7, int((right - left) // 140) + 1))
    for moment, text in date_ticks(start, end, ticks):
        anchor = "start" if moment == start else "end" if moment == end else "middle"
        labels.append(Label(equity_panel.x(moment), bottom + 18, text, anchor))

    def mark(moment: float, long: bool) -> Marker:
        return Marker(equity_panel.x(moment), equity_panel.y(picture.equity_at(moment)), long)

    entries = [mark(t.entry, t.long) for t in picture.trades]
    exits = [mark(t.exit, t.long) for t in picture.trades]
    return FigurePlan(
        width=width,
        height=height,
        title=Label(left, TITLE_BASELINE, picture.title, "start"),
        equity_panel=equity_panel,
        drawdown_panel=drawdown_panel,
        equity=equity_panel.points(picture.times, picture.equity),
        buy_and_hold=equity_panel.points(picture.times, picture.buy_and_hold),
        drawdown=drawdown_panel.points(picture.times, picture.drawdown),
        grid=grid,
        labels=labels,
        legend=_legend(picture),
        entries=entries,
        exits=exits,
    )


def _legend(picture: EquityPicture) -> list[tuple[str, str]]:
    legend = [("equity", STRATEGY_LABEL)]
    if picture.buy_and_hold:
        legend.append(("hold", HOLD_LABEL))
    legend.append(("drawdown", DRAWDOWN_LABEL))
    if any(t.long for t in picture.trades):
        legend.append(("long", LONG_LABEL))
    if any(not t.long for t in picture.trades):
        legend.append(("short", SHORT_LABEL))
    if picture.trades:
        legend.append(("exit", EXIT_LABEL))
    return legend
