"""A backtest's equity curve and buy-and-hold in the terminal: a braille line chart.

Each character cell holds a 2 x 4 grid of braille dots, so a chart 80 columns wide has 160
points across. The equity is drawn over buy-and-hold (where both pass through a cell, the
cell is the equity's); with colour the two differ by colour, without it (a pipe, NO_COLOR)
buy-and-hold is drawn with dots (``·``) so the two still read apart. The value axis is on
the left with round values, the dates under it, a legend on top.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text

from ktrdr.cli.charts.layout import (
    DRAWDOWN_LABEL,
    HOLD_LABEL,
    STRATEGY_LABEL,
    EquityPicture,
    date_ticks,
    money,
    nice_ticks,
    percent_label,
)

BRAILLE_BASE = 0x2800
# The bit of each dot in a braille cell, by (column, row) within the cell.
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
HOLD_GLYPH = "·"
EQUITY_STYLE = "bold blue"
HOLD_STYLE = "bright_black"
DRAWDOWN_STYLE = "red"
AXIS_STYLE = "dim"
MIN_PLOT_COLUMNS = 10
LABEL_WIDTH = 8


class BrailleCanvas:
    """Dots on a grid of ``columns`` x ``rows`` cells (2 x 4 dots each), one layer per
    series, so the renderer can tell which series passes through a cell."""

    def __init__(self, columns: int, rows: int) -> None:
        self.columns = columns
        self.rows = rows
        self.layers: dict[str, list[list[int]]] = {}

    @property
    def dots_across(self) -> int:
        return self.columns * 2

    @property
    def dots_down(self) -> int:
        return self.rows * 4

    def _layer(self, name: str) -> list[list[int]]:
        if name not in self.layers:
            self.layers[name] = [[0] * self.columns for _ in range(self.rows)]
        return self.layers[name]

    def dot(self, name: str, x: int, y: int) -> None:
        if 0 <= x < self.dots_across and 0 <= y < self.dots_down:
            cell_x, cell_y = divmod(x, 2), divmod(y, 4)
            self._layer(name)[cell_y[0]][cell_x[0]] |= DOT_BITS[cell_x[1]][cell_y[1]]

    def line(self, name: str, a: tuple[int, int], b: tuple[int, int]) -> None:
        """Every dot on the straight line from ``a`` to ``b`` (Bresenham)."""
        (x0, y0), (x1, y1) = a, b
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        step_x, step_y = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        error = dx + dy
        while True:
            self.dot(name, x0, y0)
            if x0 == x1 and y0 == y1:
                return
            twice = 2 * error
            if twice >= dy:
                error += dy
                x0 += step_x
            if twice <= dx:
                error += dx
                y0 += step_y

    def polyline(self, name: str, points: Sequence[tuple[int, int]]) -> None:
        if len(points) == 1:
            self.dot(name, *points[0])
        for a, b in zip(points, points[1:], strict=False):
            self.line(name, a, b)

    def cell(self, name: str, column: int, row: int) -> int:
        layer = self.layers.get(name)
        return layer[row][column] if layer is not None else 0


def _scaled(
    times: Sequence[float],
    values: Sequence[float],
    across: int,
    down: int,
    low: float,
    high: float,
) -> list[tuple[int, int]]:
    """The series in dot coordinates (x right, y down), one dot column per time slot."""
    if not times:
        return []
    start, end = times[0], times[-1]
    span_t = end - start or 1.0
    span_v = high - low or 1.0
    return [
        (
            round((t - start) / span_t * (across - 1)),
            round((high - v) / span_v * (down - 1)),
        )
        for t, v in zip(times, values, strict=False)
        if math.isfinite(v)
    ]


def _panel(
    picture: EquityPicture,
    series: list[tuple[str, list[float], str]],
    low: float,
    high: float,
    rows: int,
    columns: int,
    labels: dict[int, str],
    color: bool,
) -> list[Text]:
    """Rows of one panel: a value label (or blanks), the axis, the cells."""
    canvas = BrailleCanvas(columns, rows)
    for name, values, _style in series:
        canvas.polyline(
            name,
            _scaled(picture.times, values, canvas.dots_across, canvas.dots_down, low, high),
        )
    lines: list[Text] = []
    for row in range(rows):
        line = Text()
        label = labels.get(row)
        line.append((label or "").rjust(LABEL_WIDTH)[-LABEL_WIDTH:], AXIS_STYLE if color else "")
        line.append("┤" if label else "│", AXIS_STYLE if color else "")
        for column in range(columns):
            line.append(*_glyph(canvas, series, column, row, color))
        lines.append(line)
    return lines


def _glyph(
    canvas: BrailleCanvas,
    series: list[tuple[str, list[float], str]],
    column: int,
    row: int,
    color: bool,
) -> tuple[str, str]:
    """The character of one cell: the first series (in drawing priority) that passes."""
    for name, _values, style in series:
        bits = canvas.cell(name, column, row)
        if not bits:
            continue
        if not color and name.startswith("hold"):
            return HOLD_GLYPH, ""
        if not color and name.isdigit():  # a compared cycle's number (compare_chart.py)
            return name, ""
        return chr(BRAILLE_BASE + bits), style if color else ""
    return " ", ""


def _money_labels(low: float, high: float, rows: int) -> dict[int, str]:
    """Round values at the rows they fall on (one label a row at most)."""
    labels: dict[int, str] = {}
    span = high - low or 1.0
    for value in nice_ticks(low, high, max(2, min(6, rows // 3 + 1))):
        row = round((high - value) / span * (rows * 4 - 1)) // 4
        if 0 <= row < rows and row not in labels:
            labels[row] = money(value)
    return labels


def _drawdown_labels(deepest: float, rows: int) -> dict[int, str]:
    """0 % at the top row, the deepest drawdown at the bottom one."""
    return {0: percent_label(0.0), rows - 1: percent_label(deepest)} if rows > 1 else {}


def equity_chart(
    picture: EquityPicture,
    width: int,
    *,
    height: int = 16,
    drawdown_rows: int = 5,
    color: bool = True,
) -> Text:
    """The chart ``width`` columns wide: legend, equity (and buy-and-hold) panel of
    ``height`` rows, drawdown panel of ``drawdown_rows`` rows (0: none), date axis."""
    columns = max(MIN_PLOT_COLUMNS, width - LABEL_WIDTH - 1)

    def style(name: str) -> str:
        return name if color else ""

    out = _legend(picture, drawdown=bool(drawdown_rows), color=color)
    low, high = picture.value_range()
    series = [("equity", picture.equity, EQUITY_STYLE)]
    if picture.buy_and_hold:
        series.append(("hold", picture.buy_and_hold, HOLD_STYLE))
    rows = _panel(
        picture,
        series,
        low,
        high,
        height,
        columns,
        _money_labels(low, high, height),
        color,
    )
    if drawdown_rows:
        deepest = min([-0.01, *picture.drawdown])
        rows.append(Text(" " * LABEL_WIDTH + "├" + "─" * columns, style(AXIS_STYLE)))
        rows += _panel(
            picture,
            [("drawdown", picture.drawdown, DRAWDOWN_STYLE)],
            deepest,
            0.0,
            drawdown_rows,
            columns,
            _drawdown_labels(deepest, drawdown_rows),
            color,
        )
    for line in rows:
        out.append_text(line)
        out.append("\n")
    out.append(" " * LABEL_WIDTH + "└" + "─" * columns + "\n", style(AXIS_STYLE))
    out.append(_date_axis(picture, columns), style(AXIS_STYLE))
    return out


def _legend(picture: EquityPicture, *, drawdown: bool, color: bool) -> Text:
    """The title line, then a line naming each series with its mark (without colour, the
    buy-and-hold series has a glyph of its own)."""

    def style(name: str) -> str:
        return name if color else ""

    out = Text(no_wrap=True, overflow="crop")
    out.append(picture.title + "\n", style("bold"))
    out.append("⣿ ", style(EQUITY_STYLE))
    out.append(STRATEGY_LABEL)
    if picture.buy_and_hold:
        out.append("   ")
        out.append("⣿ " if color else f"{HOLD_GLYPH} ", style(HOLD_STYLE))
        out.append(HOLD_LABEL)
    if drawdown:
        out.append("   ")
        out.append("⣿ ", style(DRAWDOWN_STYLE))
        out.append(DRAWDOWN_LABEL)
    out.append("\n")
    return out


def _date_axis(picture: EquityPicture, columns: int) -> str:
    """Date labels under the plot: first at the left, last at the right, some between."""
    if not picture.times:
        return ""
    cells = [" "] * (LABEL_WIDTH + 1 + columns)
    ticks = date_ticks(picture.times[0], picture.times[-1], max(2, min(6, columns // 16)))
    last_end = -1
    for number, (moment, text) in enumerate(ticks):
        share = (moment - picture.times[0]) / ((picture.times[-1] - picture.times[0]) or 1.0)
        at = LABEL_WIDTH + 1 + round(share * (columns - 1))
        if number == 0:
            start = at
        elif number == len(ticks) - 1:
            start = at - len(text) + 1
        else:
            start = at - len(text) // 2
        start = max(0, min(start, len(cells) - len(text)))
        if start <= last_end:
            continue  # no room: labels never overlap
        cells[start : start + len(text)] = list(text)
        last_end = start + len(text)
    return "".join(cells).rstrip()
