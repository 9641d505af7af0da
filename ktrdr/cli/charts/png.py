"""A backtest's picture as a PNG, drawn with Pillow from the same layout as the SVG."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ktrdr.cli.charts.layout import FigurePlan, Label
from ktrdr.cli.charts.svg import COLOURS


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _blend(hex_colour: str, opacity: float) -> tuple[int, int, int]:
    """The colour at ``opacity`` over the white background (Pillow draws opaque)."""
    red, green, blue = (round(255 - (255 - c) * opacity) for c in _rgb(hex_colour))
    return red, green, blue


def write_png(plan: FigurePlan, path: Path) -> None:
    image = Image.new("RGB", (plan.width, plan.height), _rgb(COLOURS["background"]))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for a, b in plan.grid:
        draw.line([a, b], fill=_rgb(COLOURS["grid"]), width=1)
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
    for mark in plan.entries:
        tip = -6.0 if mark.long else 6.0
        colour = _rgb(COLOURS["long"] if mark.long else COLOURS["short"])
        draw.polygon(
            [(mark.x, mark.y + tip), (mark.x - 4, mark.y), (mark.x + 4, mark.y)], fill=colour
        )
    text_colour = _rgb(COLOURS["text"])

    def label(item: Label) -> None:
        # The built-in font has no arrow; everything else in a label is ASCII or a digit.
        text = item.text.replace("→", "-")
        width = draw.textlength(text, font=font)
        shift = {"start": 0.0, "middle": width / 2, "end": width}[item.anchor]
        draw.text((item.x - shift, item.y - 10), text, fill=text_colour, font=font)

    label(plan.title)
    for item in plan.labels:
        label(item)
    x = plan.width - 16.0
    for key, text in reversed(plan.legend):
        x -= draw.textlength(text, font=font) + 34.0
        draw.rectangle([(x, 14), (x + 18, 18)], fill=_rgb(COLOURS[key]))
        label(Label(x + 24.0, 20.0, text, "start"))
    image.save(path, format="PNG")
