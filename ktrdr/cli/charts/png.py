"""A backtest's picture as a PNG, drawn with Pillow from the same layout as the SVG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ktrdr.cli.charts.layout import LEGEND_BASELINE, FigurePlan, Label, Point
from ktrdr.cli.charts.svg import COLOURS, EXIT_RADIUS, MARK_KEYS

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont | ImageFont.TransposedFont


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _blend(hex_colour: str, opacity: float) -> tuple[int, int, int]:
    """The colour at ``opacity`` over the white background (Pillow draws opaque)."""
    red, green, blue = (round(255 - (255 - c) * opacity) for c in _rgb(hex_colour))
    return red, green, blue


def canvas(
    width: int, height: int, grid: Sequence[tuple[Point, Point]]
) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A blank picture with its grid lines drawn."""
    image = Image.new("RGB", (width, height), _rgb(COLOURS["background"]))
    draw = ImageDraw.Draw(image)
    for a, b in grid:
        draw.line([a, b], fill=_rgb(COLOURS["grid"]), width=1)
    return image, draw


def draw_label(draw: ImageDraw.ImageDraw, font: Font, item: Label) -> None:
    # The built-in font has no arrow; everything else in a label is ASCII or a digit.
    text = item.text.replace("→", "-")
    width = draw.textlength(text, font=font)
    shift = {"start": 0.0, "middle": width / 2, "end": width}[item.anchor]
    draw.text((item.x - shift, item.y - 10), text, fill=_rgb(COLOURS["text"]), font=font)


def write_png(plan: FigurePlan, path: Path) -> None:
    image, draw = canvas(plan.width, plan.height, plan.grid)
    font = ImageFont.load_default()
    if plan.drawdown:
        zero = plan.drawdown_panel.y(0.0)
        area = [(plan.drawdown[0][0], zero), *plan.drawdown, (plan.drawdown[-1][0], zero)]
        if len(area) >= 3:
            draw.polygon(area, fill=_blend(COLOURS["drawdown"], 0.18))
        draw.line(plan.drawdown, fill=_rgb(COLOURS["drawdown"]), width=1)
    if len(plan.buy_and_hold) >= 2:
        draw.line(plan.buy_and_hold, fill=_rgb(COLOURS["hold"]), width=2)
    if len(plan.equity) >= 2:
        draw.line(plan.equity, fill=_rgb(COLOURS["equity"]), width=2, joint="curve")
    for mark in plan.exits:
        _exit_mark(draw, mark.x, mark.y)
    for mark in plan.entries:
        _entry_mark(draw, mark.x, mark.y, mark.long)
    for item in [plan.title, *plan.labels]:
        draw_label(draw, font, item)
    x, y = plan.title.x, LEGEND_BASELINE  # the legend's own row, as in the SVG
    for key, text in plan.legend:
        if key == "exit":
            _exit_mark(draw, x + 9.0, y - 5.0)
        elif key in MARK_KEYS:
            _entry_mark(draw, x + 9.0, y - 5.0 + (3.0 if key == "long" else -3.0), key == "long")
        else:
            draw.rectangle([(x, y - 7.0), (x + 18, y - 3.0)], fill=_rgb(COLOURS[key]))
        draw_label(draw, font, Label(x + 24.0, y, text, "start"))
        x += draw.textlength(text, font=font) + 44.0
    image.save(path, format="PNG")


def _entry_mark(draw: ImageDraw.ImageDraw, x: float, y: float, long: bool) -> None:
    tip = -6.0 if long else 6.0
    colour = _rgb(COLOURS["long"] if long else COLOURS["short"])
    draw.polygon([(x, y + tip), (x - 4, y), (x + 4, y)], fill=colour)


def _exit_mark(draw: ImageDraw.ImageDraw, x: float, y: float) -> None:
    box = [(x - EXIT_RADIUS, y - EXIT_RADIUS), (x + EXIT_RADIUS, y + EXIT_RADIUS)]
    draw.ellipse(box, fill=_rgb(COLOURS["background"]), outline=_rgb(COLOURS["exit"]))
