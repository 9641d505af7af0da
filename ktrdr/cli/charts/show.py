"""`ktrdr backtest show`: a completed backtest's metrics and its equity curve, in the
terminal and, when asked, as SVG and PNG files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ktrdr.cli.charts.layout import EquityPicture, figure_plan
from ktrdr.cli.charts.svg import equity_svg
from ktrdr.cli.charts.terminal import equity_chart
from ktrdr.cli.views.outcomes import backtest_summary, page_url
from ktrdr.contract.operations import OperationPublic
from ktrdr.contract.pictures import BacktestSeriesPublic
from ktrdr.contract.results import BacktestSummary, backtest_summary_of
from ktrdr.errors import KtrdrError

SVG_SIZE = (960, 600)
PNG_SIZE = (1200, 720)
CHART_HEIGHT = 16
DRAWDOWN_ROWS = 5


def print_backtest(
    console: Console,
    op: OperationPublic,
    series: BacktestSeriesPublic,
    *,
    base_url: str,
    color: bool,
    width: int | None = None,
) -> None:
    """The metrics lines (as ``backtest run`` ends with), the chart, and the page's URL."""
    console.print(
        Text(f"Backtest {op.operation_id}", style="bold" if color else ""), soft_wrap=True
    )
    for text, style in backtest_summary(backtest_summary_of(op) or BacktestSummary()):
        console.print(Text(f"   {text}", style=style if color else ""), soft_wrap=True)
    console.print()
    picture = EquityPicture.of(series)
    chart = equity_chart(
        picture,
        width or console.width,
        height=CHART_HEIGHT,
        drawdown_rows=DRAWDOWN_ROWS,
        color=color,
    )
    console.print(chart, soft_wrap=True, crop=False)
    url = page_url(base_url, op)
    if url:
        console.print(Text(f"   View: {url}", style="cyan" if color else ""), soft_wrap=True)


def write_picture(series: BacktestSeriesPublic, svg: Path | None, png: Path | None) -> list[Path]:
    """Write the picture where asked; returns the files written. An unwritable path is a
    ``KtrdrError`` with the reason (the caller turns it into one line and an exit code)."""
    picture = EquityPicture.of(series)

    def draw_png(path: Path) -> None:
        from ktrdr.cli.charts.png import write_png

        write_png(figure_plan(picture, *PNG_SIZE), path)

    return write_files(svg, png, lambda: equity_svg(figure_plan(picture, *SVG_SIZE)), draw_png)


def write_files(
    svg: Path | None,
    png: Path | None,
    svg_text: Callable[[], str],
    draw_png: Callable[[Path], None],
) -> list[Path]:
    """Write ``svg_text()`` to ``svg`` and ``draw_png`` to ``png``, each when asked; returns
    the files written, an unwritable path being a ``KtrdrError`` with the reason."""
    written: list[Path] = []
    try:
        if svg is not None:
            svg.write_text(svg_text(), encoding="utf-8")
            written.append(svg)
        if png is not None:
            draw_png(png)
            written.append(png)
    except (OSError, ValueError) as exc:
        raise KtrdrError(f"cannot write the picture: {exc}", code="picture_not_written") from None
    return written
