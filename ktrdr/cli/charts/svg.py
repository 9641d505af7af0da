"""A backtest's picture as a small, self-contained SVG document, written by hand.

Every piece of text (a strategy name, a symbol) is XML-escaped, so nothing in the data can
add markup; numbers are rounded to a tenth of a pixel to keep the file small.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from ktrdr.cli.charts.layout import FigurePlan, Label, Point

COLOURS = {
    "equity": "#1f6feb",
    "hold": "#8b949e",
    "drawdown": "#cf222e",
    "long": "#1a7f37",
    "short": "#cf222e",
    "grid": "#d0d7de",
    "text": "#24292f",
    "background": "#ffffff",
}
FONT = "font-family='system-ui, sans-serif' font-size='12'"


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _points(points: Sequence[Point]) -> str:
    return " ".join(f"{_num(x)},{_num(y)}" for x, y in points)


def _text(label: Label, extra: str = "") -> str:
    return (
        f"<text x='{_num(label.x)}' y='{_num(label.y)}' text-anchor='{label.anchor}'"
        f"{extra}>{escape(label.text)}</text>"
    )


def equity_svg(plan: FigurePlan, title: str | None = None) -> str:
    """The SVG document of ``plan``; ``title`` (escaped) names it for screen readers."""
    width, height = plan.width, plan.height
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' "
        f"aria-label={quoteattr(title or plan.title.text)}>",
        f"<title>{escape(title or plan.title.text)}</title>",
        f"<rect width='{width}' height='{height}' fill='{COLOURS['background']}'/>",
        f"<g stroke='{COLOURS['grid']}' stroke-width='1'>",
        *(
            f"<line x1='{_num(a[0])}' y1='{_num(a[1])}' x2='{_num(b[0])}' y2='{_num(b[1])}'/>"
            for a, b in plan.grid
        ),
        "</g>",
    ]
    dd = plan.drawdown_panel
    if plan.drawdown:
        zero = dd.y(0.0)
        area = [(plan.drawdown[0][0], zero), *plan.drawdown, (plan.drawdown[-1][0], zero)]
        parts.append(
            f"<path d='M{_points(area)}Z' fill='{COLOURS['drawdown']}' fill-opacity='0.18' "
            f"stroke='{COLOURS['drawdown']}' stroke-width='1'/>"
        )
    if plan.buy_and_hold:
        parts.append(
            f"<polyline fill='none' stroke='{COLOURS['hold']}' stroke-width='1.5' "
            f"stroke-dasharray='5 3' points='{_points(plan.buy_and_hold)}'/>"
        )
    parts.append(
        f"<polyline fill='none' stroke='{COLOURS['equity']}' stroke-width='2' "
        f"points='{_points(plan.equity)}'/>"
    )
    for mark in plan.entries:
        # A small triangle: pointing up for a long entry, down for a short one.
        tip = -6.0 if mark.long else 6.0
        colour = COLOURS["long"] if mark.long else COLOURS["short"]
        parts.append(
            f"<path d='M{_num(mark.x)},{_num(mark.y + tip)} l-4,{_num(-tip)} h8Z' "
            f"fill='{colour}' fill-opacity='0.8'/>"
        )
    parts.append(f"<g {FONT} fill='{COLOURS['text']}'>")
    parts.append(_text(plan.title, " font-size='15' font-weight='600'"))
    parts.extend(_text(label) for label in plan.labels)
    x = plan.width - 16.0
    for key, text in reversed(plan.legend):
        x -= 8.0 * len(text) + 34.0
        parts.append(
            f"<rect x='{_num(x)}' y='14' width='18' height='4' fill='{COLOURS[key]}'/>"
            + _text(Label(x + 24.0, 20.0, text, "start"))
        )
    parts.append("</g></svg>")
    return "\n".join(parts) + "\n"
