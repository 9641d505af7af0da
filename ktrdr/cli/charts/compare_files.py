"""`ktrdr agent compare --svg/--png`: the compared cycles' curves as a picture file.

``compare_plan`` lays a ``ComparePicture`` out in canvas pixels (a title, a legend that
wraps, the normalised equity curves over dates with buy-and-hold dashed, and under them the
validation loss over epochs), with the backtest picture's own pieces (``layout.Panel``, its
ticks and labels); ``compare_svg`` and ``write_compare_png`` only draw the plan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ktrdr.cli.charts.compare_chart import (
    CYCLE_COLOURS,
    TRAINING_TITLE,
    ComparePicture,
    Curve,
    value_range,
    x_range,
)
from ktrdr.cli.charts.layout import Label, Panel, Point, date_ticks, money, nice_ticks
from ktrdr.cli.charts.show import write_files
from ktrdr.cli.charts.svg import COLOURS, FONT, _num, _points, _text

SVG_SIZE = (960, 640)
PNG_SIZE = (1200, 800)
HOLD_COLOUR = "#57606a"  # one buy-and-hold line shared by every cycle: grey, dashed
CHAR_WIDTH = 7.0  # about, at 12 px: enough to space the legend's entries
LEFT, RIGHT_MARGIN = 72.0, 16.0


@dataclass(frozen=True)
class Line:
    css: str  # "equity" | "hold" | "training"
    key: str  # the cycle's number, or "hold…"
    colour: str
    dashed: bool
    points: list[Point]


@dataclass(frozen=True)
class ComparePlan:
    width: int
    height: int
    title: Label
    lines: list[Line]
    grid: list[tuple[Point, Point]]
    labels: list[Label]  # axis values, dates, epochs and panel titles
    legend: list[tuple[str, bool, Label]]  # (colour, dashed, text at the swatch's right)


def _colour(curve: Curve) -> str:
    return HOLD_COLOUR if curve.colour is None else CYCLE_COLOURS[curve.colour % 5]


def _legend(
    curves: Sequence[Curve], width: int, top: float
) -> tuple[list[tuple[str, bool, Label]], float]:
    """The entries left to right, wrapping at ``width``; returns them and the next free y."""
    x, y = LEFT, top
    entries: list[tuple[str, bool, Label]] = []
    for curve in curves:
        size = 24.0 + CHAR_WIDTH * len(curve.label) + 20.0
        if x > LEFT and x + size > width - RIGHT_MARGIN:
            x, y = LEFT, y + 18.0
        entries.append((_colour(curve), curve.is_hold, Label(x + 24.0, y, curve.label, "start")))
        x += size
    return entries, y + 14.0


def _panel(curves: Sequence[Curve], box: tuple[float, float, float, float]) -> Panel:
    start, end = x_range(curves)
    low, high = value_range(curves)
    left, top, right, bottom = box
    return Panel(left, top, right, bottom, start, end, low, high)


def _axes(panel: Panel, dated: bool) -> tuple[list[tuple[Point, Point]], list[Label]]:
    """Grid lines and values on the left, dates or epochs under the panel."""
    grid: list[tuple[Point, Point]] = []
    labels: list[Label] = []
    for value in nice_ticks(panel.low, panel.high, 5):
        y = panel.y(value)
        grid.append(((panel.left, y), (panel.right, y)))
        labels.append(Label(panel.left - 6, y + 4, money(value), "end"))
    under = panel.bottom + 18
    if dated:
        count = max(2, min(7, int((panel.right - panel.left) // 140) + 1))
        ticks = date_ticks(panel.start, panel.end, count)
    else:
        ticks = [(v, f"{v:.0f}") for v in nice_ticks(panel.start, panel.end, 8) if v >= 1]
    for moment, text in ticks:
        anchor = "start" if moment == panel.start else "end" if moment == panel.end else "middle"
        labels.append(Label(panel.x(moment), under, text, anchor))
    return grid, labels


def _lines(curves: Sequence[Curve], panel: Panel, css: str) -> list[Line]:
    return [
        Line(
            "hold" if c.is_hold else css,
            c.key,
            _colour(c),
            c.is_hold,
            [p for p in panel.points(c.xs, c.ys) if math.isfinite(p[1])],
        )
        for c in sorted(curves, key=lambda c: not c.is_hold)  # buy-and-hold under the cycles
    ]


def compare_plan(picture: ComparePicture, width: int, height: int) -> ComparePlan:
    """Lay ``picture`` out on a ``width`` x ``height`` canvas."""
    right = width - RIGHT_MARGIN
    legend, top = _legend(picture.equity or picture.training, width, 42.0)
    top += 12.0
    bottom = height - 34.0
    split = top + (bottom - top) * (0.62 if picture.training else 1.0)
    lines: list[Line] = []
    grid: list[tuple[Point, Point]] = []
    labels: list[Label] = []
    panels = [(picture.equity, (LEFT, top, right, split - (46.0 if picture.training else 0.0)))]
    if picture.training:
        panels.append((picture.training, (LEFT, split + 14.0, right, bottom)))
    for number, (curves, box) in enumerate(panels):
        if not curves:
            continue
        panel = _panel(curves, box)
        more_grid, more_labels = _axes(panel, dated=number == 0)
        grid += more_grid
        labels += more_labels
        lines += _lines(curves, panel, "equity" if number == 0 else "training")
        if number == 1:
            labels.append(Label(LEFT, box[1] - 6.0, f"{TRAINING_TITLE} (same colours)", "start"))
    title = Label(LEFT, 22.0, f"Compared cycles: {picture.title}", "start")
    return ComparePlan(width, height, title, lines, grid, labels, legend)


def compare_svg(plan: ComparePlan) -> str:
    """The SVG document of ``plan``: every text escaped, one polyline per curve."""
    width, height = plan.width, plan.height
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label={quoteattr(plan.title.text)}>",
        f"<title>{escape(plan.title.text)}</title>",
        f"<rect width='{width}' height='{height}' fill='{COLOURS['background']}'/>",
        f"<g stroke='{COLOURS['grid']}' stroke-width='1'>",
        *(
            f"<line x1='{_num(a[0])}' y1='{_num(a[1])}' x2='{_num(b[0])}' y2='{_num(b[1])}'/>"
            for a, b in plan.grid
        ),
        "</g>",
    ]
    for line in plan.lines:
        dash = " stroke-dasharray='5 3'" if line.dashed else ""
        parts.append(
            f"<polyline class='{line.css}' data-key='{escape(line.key)}' fill='none' "
            f"stroke='{line.colour}' stroke-width='{1.5 if line.dashed else 2}'{dash} "
            f"points='{_points(line.points)}'/>"
        )
    parts.append(f"<g {FONT} fill='{COLOURS['text']}'>")
    parts.append(_text(plan.title, " font-size='15' font-weight='600'"))
    parts.extend(_text(label) for label in plan.labels)
    for colour, dashed, label in plan.legend:
        dash = " stroke-dasharray='5 3'" if dashed else ""
        parts.append(
            f"<line x1='{_num(label.x - 24)}' y1='{_num(label.y - 4)}' x2='{_num(label.x - 6)}' "
            f"y2='{_num(label.y - 4)}' stroke='{colour}' stroke-width='3'{dash}/>"
        )
        parts.append(_text(label))
    parts.append("</g></svg>")
    return "\n".join(parts) + "\n"


def _dashes(points: Sequence[Point], on: float = 6.0, off: float = 4.0) -> list[list[Point]]:
    """The pieces of a polyline drawn as dashes (Pillow has no dashed line): ``on`` pixels
    drawn, ``off`` left out, along its length."""
    pieces: list[list[Point]] = []
    drawn, travelled = True, 0.0
    current: list[Point] = list(points[:1])
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        length = math.hypot(x1 - x0, y1 - y0)
        at = 0.0
        while length - at > (on if drawn else off) - travelled:
            at += (on if drawn else off) - travelled
            share = at / length
            point = (x0 + (x1 - x0) * share, y0 + (y1 - y0) * share)
            if drawn:
                pieces.append([*current, point])
            current, drawn, travelled = [point], not drawn, 0.0
        travelled += length - at
        if drawn:
            current.append((x1, y1))
    if drawn and len(current) >= 2:
        pieces.append(current)
    return pieces


def write_compare_png(plan: ComparePlan, path: Path) -> None:
    from PIL import ImageFont

    from ktrdr.cli.charts.png import _rgb, canvas, draw_label

    image, draw = canvas(plan.width, plan.height, plan.grid)
    font = ImageFont.load_default()
    for line in plan.lines:
        pieces = _dashes(line.points) if line.dashed else [line.points]
        for piece in pieces:
            if len(piece) >= 2:
                draw.line(piece, fill=_rgb(line.colour), width=1 if line.dashed else 2)
    for label in [plan.title, *plan.labels, *(entry[2] for entry in plan.legend)]:
        draw_label(draw, font, label)
    for colour, dashed, label in plan.legend:
        for x in range(-24, -6, 7) if dashed else [-24]:
            right = min(x + (4 if dashed else 18), -6)
            draw.rectangle(
                [(label.x + x, label.y - 6), (label.x + right, label.y - 3)], fill=_rgb(colour)
            )
    image.save(path, format="PNG")


def write_compare_picture(
    picture: ComparePicture, svg: Path | None, png: Path | None
) -> list[Path]:
    """Write the picture where asked; returns the files written (an unwritable path is a
    ``KtrdrError`` with the reason)."""
    return write_files(
        svg,
        png,
        lambda: compare_svg(compare_plan(picture, *SVG_SIZE)),
        lambda path: write_compare_png(compare_plan(picture, *PNG_SIZE), path),
    )
