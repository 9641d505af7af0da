"""`ktrdr strategy check`: does any indicator or feature of a strategy look ahead?

A local computation, with no backend: the strategy (a shipped example or a file) and the
bars are read on this machine. The bars are a bundled series or one imported into this
machine's data dir; a series imported only into a remote backend cannot be checked here,
since the API serves a series' summary and recent bars, never the whole of it. The command
says so and exits 2 rather than check something else.

Exit codes: 0 nothing looks ahead, 1 something does, 2 the input cannot be checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from ktrdr.cli.options import JsonOutput
from ktrdr.cli.output import EXIT_FAILED, EXIT_USAGE, echo, fail, print_json

if TYPE_CHECKING:
    from ktrdr.data.bars import Bars
    from ktrdr.indicators.lookahead import ColumnFinding, LookaheadReport

app = typer.Typer(help="Check strategies before trusting their results.", no_args_is_help=True)

MAX_POINTS = 1_000


def _bad_input(message: str) -> NoReturn:
    fail(message, EXIT_USAGE)


def _local_bars(symbol: str, timeframe: str) -> Bars:
    """The whole series, from the bundled data or this machine's data dir."""
    from ktrdr.config import load_settings
    from ktrdr.data.market import MarketData
    from ktrdr.data.series_names import symbol_problem, timeframe_problem
    from ktrdr.errors import NotFoundError

    problem = symbol_problem(symbol) or timeframe_problem(timeframe)
    if problem is not None:
        _bad_input(problem)
    data_dir = load_settings().data_dir
    try:
        return MarketData(data_dir).load(symbol, timeframe)
    except NotFoundError as exc:
        _bad_input(
            f"{exc.message}. `strategy check` computes on this machine: it reads the bundled "
            f"series and those imported into {data_dir}, not series only a remote backend holds"
        )


def _run(strategy: str, symbol: str | None, timeframe: str | None, points: int) -> LookaheadReport:
    from ktrdr.errors import KtrdrError
    from ktrdr.indicators.lookahead import check_lookahead
    from ktrdr.strategies.loader import load_strategy

    try:
        config = load_strategy(strategy)
        bars = _local_bars(symbol or config.data.symbol, timeframe or config.data.timeframe)
        return check_lookahead(config, bars, sample_points=points)
    except KtrdrError as exc:
        # Every ktrdr error here is about what was asked for: an unknown name, an unreadable
        # or invalid file, bad settings, or a series too short for the strategy's warm-up.
        _bad_input(exc.message)


def _number(value: float) -> str:
    return f"{value:.6g}"


def _when(timestamp: str) -> str:
    """A daily bar's date, or an intraday bar's date and time."""
    return timestamp.removesuffix("T00:00:00").replace("T", " ")


def _line(finding: ColumnFinding, width: int) -> str:
    label = f"{finding.name:<{width}}  {finding.source}"
    first = finding.first
    if first is None:
        return f"  ✓ {label}"
    return (
        f"  ✗ {label}: differs at {len(finding.leaking_bars)} of {finding.checked} cut points; "
        f"first at bar {first.bar:,} ({_when(first.timestamp)}): whole series "
        f"{_number(first.full)}, cut there {_number(first.cut)}"
    )


def _print_report(report: LookaheadReport) -> None:
    first, last = report.cut_points[0], report.cut_points[-1]
    echo(
        f"Look-ahead check of {report.subject} on {report.symbol} {report.timeframe}: "
        f"{report.bars:,} bars, cut at {len(report.cut_points)} bars from {first:,} to {last:,}"
    )
    width = max(len(finding.name) for finding in report.findings)
    for kind, title in (("indicator", "Indicators (type)"), ("feature", "Features (indicator)")):
        echo(title)
        for finding in report.findings:
            if finding.kind == kind:
                echo(_line(finding, width))
    leaks = report.leaks
    if not leaks:
        echo("No look-ahead: every value stayed the same when the bars after it were cut off.")
        return
    names = ", ".join(f"{finding.kind} {finding.name}" for finding in leaks)
    echo(f"Look-ahead found: {names} changed when the bars after them were cut off.")


@app.command("check")
def check(
    strategy: Annotated[
        str,
        typer.Argument(
            metavar="NAME|FILE",
            help="A shipped example name (see `ktrdr model examples`) or a strategy file.",
        ),
    ],
    symbol: Annotated[str | None, typer.Option(help="Default: the strategy's symbol.")] = None,
    timeframe: Annotated[
        str | None, typer.Option(help="Default: the strategy's timeframe.")
    ] = None,
    points: Annotated[
        int,
        typer.Option("--points", min=1, max=MAX_POINTS, help="How many bars to cut the series at."),
    ] = 25,
    json_out: JsonOutput = False,
) -> None:
    """Check that no indicator or feature of a strategy looks ahead.

    Each is recomputed on the series cut off at sample bars and compared, at the cut, with
    its value over the whole series. Exit 0 when none changes, 1 when one does (it looks
    ahead), 2 when the input cannot be checked.
    """
    report = _run(strategy, symbol, timeframe, points)
    if json_out:
        print_json(report.to_json())
    else:
        _print_report(report)
    if not report.clean:
        raise typer.Exit(EXIT_FAILED)
