"""A backtest's picture as a small, self-contained SVG document, written by hand.

Every piece of text (a strategy name, a symbol) is XML-escaped, so nothing in the data can
add markup; numbers are rounded to a tenth of a pixel to keep the file small.

Written by hand rather than with matplotlib: the picture is a few hundred lines of markup
from a layout the terminal chart and the PNG share, and importing matplotlib would take
longer than the whole command and add a large dependency to a CLI install.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from ktrdr.cli.charts.layout import LEGEND_BASELINE, FigurePlan, Label, Point

# The page's light palette (ktrdr/api/web/ktrdr.css): buy-and-hold is its --s2 orange,
# the drawdown --s3, trade marks --ok / --bad / --fg as on the backtest page. The equity
# line keeps a lighter blue than --s1 (#0b5cad), which the PNG test tells by its blue.
COLOURS = {
    "equity": "#1f6feb",
    "hold": "#c2410c",
    "drawdown": "#b42318",
    "long": "#157347",
    "short": "#b42318",
    "exit": "#1b1f24",
    "grid": "#d5dae0",
    "text": "#1b1f24",
    "background": "#ffffff",
}
MARK_KEYS = ("long", "short", "exit")
EXIT_RADIUS = 3.5
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
    parts.extend(_exit_mark(mark.x, mark.y) for mark in plan.exits)
    parts.extend(_entry_mark(mark.x, mark.y, mark.long) for mark in plan.entries)
    parts.append(f"<g {FONT} fill='{COLOURS['text']}'>")
    parts.append(_text(plan.title, " font-size='15' font-weight='600'"))
    parts.extend(_text(label) for label in plan.labels)
    parts.extend(_legend(plan))
    parts.append("</g></svg>")
    return "\n".join(parts) + "\n"


def _entry_mark(x: float, y: float, long: bool) -> str:
    """A small triangle: pointing up for a long entry, down for a short one."""
    tip = -6.0 if long else 6.0
    colour = COLOURS["long"] if long else COLOURS["short"]
    return (
        f"<path class='entry' d='M{_num(x)},{_num(y + tip)} l-4,{_num(-tip)} h8Z' "
        f"fill='{colour}' fill-opacity='0.85'/>"
    )


def _exit_mark(x: float, y: float) -> str:
    """A ring (○), drawn under the entries so a trade of one bar still shows its entry."""
    return (
        f"<circle class='exit' cx='{_num(x)}' cy='{_num(y)}' r='{EXIT_RADIUS}' "
        f"fill='{COLOURS['background']}' stroke='{COLOURS['exit']}' stroke-width='1.2'/>"
    )


def _legend(plan: FigurePlan) -> list[str]:
    """The legend on its own row under the title, left to right; a line's swatch is a bar,
    a trade mark's is the mark itself."""
    y = LEGEND_BASELINE
    x = plan.title.x
    parts: list[str] = []
    for key, text in plan.legend:
        if key == "exit":
            parts.append(_exit_mark(x + 9.0, y - 4.0))
        elif key in MARK_KEYS:
            parts.append(
                _entry_mark(x + 9.0, y - 4.0 + (3.0 if key == "long" else -3.0), key == "long")
            )
        else:
            parts.append(
                f"<rect x='{_num(x)}' y='{_num(y - 6.0)}' width='18' height='4' "
                f"fill='{COLOURS[key]}'/>"
            )
        parts.append(_text(Label(x + 24.0, y, text, "start")))
        x += 7.0 * len(text) + 44.0
    return parts
