"""`ktrdr agent compare ID ID [ID ...]`: two to five research cycles side by side.

Reads each cycle (``GET /operations/{id}``), then, for a completed one, the backtest and the
training that stand for its result (``backtest_op_id`` and ``training_op_id`` in its
parameters: a walk-forward cycle's chosen candidate's holdout backtest and final training)
through ``/backtests/{id}/series`` and ``/training/{id}/history``. It prints a table with a
column per cycle, the equity curves normalised to 1.0 and the validation loss per epoch
overlaid in the terminal; ``--svg``/``--png`` write the same curves, ``--json`` the figures.
Registered on the ``agent`` app by ``commands/agent.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ktrdr.cli.options import JsonOutput, NoAutostart, checked_operation_ids
from ktrdr.cli.output import EXIT_USAGE, echo, fail, friendly_errors, print_json, terminal_safe
from ktrdr.records.kinds import OperationType

if TYPE_CHECKING:
    from ktrdr.cli.views.compare import ComparedCycle
    from ktrdr.client.http import KtrdrClient
    from ktrdr.contract.operations import OperationPublic

MIN_CYCLES, MAX_CYCLES = 2, 5
SERIES_POINTS = 1_000  # per equity curve: enough for a 1,200-pixel picture
HISTORY_POINTS = 400  # per training curve

CycleIds = Annotated[
    list[str],
    typer.Argument(
        metavar="ID",
        help=f"{MIN_CYCLES} to {MAX_CYCLES} research cycle ids (from `ktrdr agent results`).",
        callback=checked_operation_ids,
        show_default=False,
    ),
]
PngOpt = Annotated[
    Path | None,
    typer.Option(
        "--png", dir_okay=False, metavar="FILE", help="Also write the curves as a PNG picture."
    ),
]
SvgOpt = Annotated[
    Path | None,
    typer.Option(
        "--svg", dir_okay=False, metavar="FILE", help="Also write the curves as an SVG picture."
    ),
]
WidthOpt = Annotated[
    int | None,
    typer.Option(min=30, max=1000, help="Chart width in columns (default: the terminal's)."),
]
PlainOpt = Annotated[
    bool,
    typer.Option(
        "--plain",
        help="No colour: the chart draws each cycle with its number, buy-and-hold with dots.",
    ),
]
NoChartOpt = Annotated[
    bool, typer.Option("--no-chart", help="Only the table: no curves in the terminal.")
]


def _checked_count(ids: list[str]) -> None:
    """Two to five distinct ids, or a usage line (exit 2) before any request."""
    if not MIN_CYCLES <= len(ids) <= MAX_CYCLES:
        fail(f"compare {MIN_CYCLES} to {MAX_CYCLES} research cycles, not {len(ids)}", EXIT_USAGE)
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        fail(f"{repeated[0]} is named twice: compare distinct cycles", EXIT_USAGE)


def _curves_of(client: KtrdrClient, op: OperationPublic) -> ComparedCycle:
    """``op`` with its backtest's series and its training's epochs, when it completed; a
    curve the backend cannot give (a removed detail file) is a note, not a failure."""
    from ktrdr.cli.views.compare import ComparedCycle
    from ktrdr.errors import ApiError

    if op.status.value != "completed":
        return ComparedCycle(op)
    params = op.metadata.parameters
    backtest_id, training_id = params.get("backtest_op_id"), params.get("training_op_id")
    series = history = None
    problems = [] if isinstance(backtest_id, str) else ["it recorded no backtest to draw"]
    try:
        if isinstance(backtest_id, str):
            series = client.get_backtest_series(backtest_id, max_points=SERIES_POINTS)
    except ApiError as exc:
        problems.append(f"no equity curve ({exc.message})")
    try:
        if isinstance(training_id, str):
            history = client.get_training_history(training_id, max_points=HISTORY_POINTS)
    except ApiError as exc:
        problems.append(f"no training curve ({exc.message})")
    return ComparedCycle(op, series, history, "; ".join(problems) or None)


def _read_cycles(client: KtrdrClient, ids: list[str]) -> list[ComparedCycle]:
    """Every operation first (an unknown id or another kind fails before any curve is
    read), then each cycle's curves."""
    ops = [client.get_operation(i) for i in ids]
    for op in ops:
        if op.operation_type is not OperationType.AGENT_RESEARCH:
            fail(
                f"{op.operation_id} is a {op.operation_type.value} operation, not a research "
                "cycle (`ktrdr agent results` lists the cycles)",
                EXIT_USAGE,
            )
    return [_curves_of(client, op) for op in ops]


def compare(
    cycle_ids: CycleIds,
    png: PngOpt = None,
    svg: SvgOpt = None,
    width: WidthOpt = None,
    plain: PlainOpt = False,
    no_chart: NoChartOpt = False,
    json_out: JsonOutput = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Research cycles side by side: their figures in columns (best marked, buy-and-hold
    included), their equity curves from 1.0 and validation loss per epoch overlaid."""
    _checked_count(cycle_ids)
    with friendly_errors():
        from ktrdr.cli.backend import client_for
        from ktrdr.config import load_settings

        settings = load_settings()
        with client_for(no_autostart) as client:
            cycles = _read_cycles(client, cycle_ids)
            base_url = client.base_url
        from ktrdr.cli.charts.compare_chart import compare_picture
        from ktrdr.cli.charts.compare_files import write_compare_picture

        picture = compare_picture([(c.label, c.series, c.history) for c in cycles])
        written = write_compare_picture(picture, svg, png)
    if json_out:
        _print_figures(cycles)
    else:
        from ktrdr.cli.views.compare import print_comparison

        print_comparison(
            cycles,
            picture,
            base_url=base_url,
            no_color=bool(settings.no_color) or plain,
            width=width,
            chart=not no_chart,
        )
    for path in written:
        if json_out:  # stdout stays one JSON document
            sys.stderr.write(f"Wrote {terminal_safe(str(path))}\n")
        else:
            echo(f"Wrote {path}")


def _print_figures(cycles: list[ComparedCycle]) -> None:
    """One object per cycle, in the order given, with the rows where it is the best."""
    from ktrdr.cli.views.compare import best_of_rows, compared_figures

    figures = [compared_figures(c) for c in cycles]
    best = best_of_rows(figures)
    print_json([{**f, "best": best[f["operation_id"]]} for f in figures])
