"""`ktrdr backtest run`: backtest a trained model out of sample, watched live;
`ktrdr backtest show`: a completed backtest's metrics and equity curve (and picture files)."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ktrdr.cli.options import (
    InterruptAction,
    JsonOutput,
    NoAutostart,
    OperationId,
)
from ktrdr.cli.output import echo, friendly_errors, print_json, terminal_safe
from ktrdr.cli.watch_flags import WatchFlags, watch_flags
from ktrdr.cli.watching import PlainOutput, start_and_watch
from ktrdr.errors import ApiError, InvalidRequestError, KtrdrError

if TYPE_CHECKING:
    pass

# A name the CLI can hand to `ktrdr model train` as it stands (no path, no suffix).
STRATEGY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}")

app = typer.Typer(help="Backtest trained models.", no_args_is_help=True)

StartOpt = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d"], help="First day to test (default: the strategy's test_start)."
    ),
]
EndOpt = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d"],
        help="Last day to test (default: the strategy's test_end, else the last bar).",
    ),
]


@app.command("run")
@watch_flags(InterruptAction.CANCEL)  # this command started the work
def run(
    model: Annotated[
        str, typer.Argument(help="A model directory, or a strategy name (its newest model)")
    ],
    symbol: Annotated[str | None, typer.Option(help="Default: the model's symbol.")] = None,
    timeframe: Annotated[
        str | None, typer.Option(help="Bar size: 1d, 1h ... (default: the model's).")
    ] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    mode: Annotated[
        str | None, typer.Option(help="long_flat or long_short (default: the strategy's).")
    ] = None,
    commission: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Commission, a fraction of the value traded: 0.001 is 0.1% "
            "(default: the strategy's).",
        ),
    ] = None,
    slippage: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Slippage, a fraction of the value traded, added to the commission "
            "(default: the strategy's).",
        ),
    ] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Start and return.")] = False,
    *,
    flags: WatchFlags,
) -> None:
    """Run a backtest with live progress; prints the metrics at the end."""
    from ktrdr.contract.requests import BacktestStartRequest, checked

    with friendly_errors():
        request = checked(
            BacktestStartRequest,
            model=model,
            symbol=symbol,
            timeframe=timeframe,
            start_date=start.date() if start else None,
            end_date=end.date() if end else None,
            mode=mode,
            commission=commission,
            slippage=slippage,
        )
    how = flags.watching(not detach)

    start_and_watch(
        lambda client: client.start_backtest(request),
        "Backtest",
        how,
        reword=lambda exc: _with_training_hint(exc, model),
    )


def _with_training_hint(exc: ApiError, model: str) -> KtrdrError:
    """No model yet for a strategy name: say how to make one, the step the user missed."""
    if exc.details.get("field") != "model" or "models" not in exc.details:
        return exc
    if not STRATEGY_NAME.fullmatch(model):  # a path: there is no one command to suggest
        return exc
    trained = exc.details.get("models")
    listing = f"`ktrdr model list` shows the {trained} trained" if trained else "none is trained"
    return InvalidRequestError(
        f"no model of {model!r} on this backend yet ({listing}); "
        f"train one first: ktrdr model train {model}"
    )


@app.command("show")
def show(
    operation_id: OperationId,
    png: Annotated[
        Path | None,
        typer.Option("--png", dir_okay=False, metavar="FILE", help="Write the picture as PNG."),
    ] = None,
    svg: Annotated[
        Path | None,
        typer.Option("--svg", dir_okay=False, metavar="FILE", help="Write the picture as SVG."),
    ] = None,
    width: Annotated[
        int | None, typer.Option(min=30, max=1000, help="Chart width (default: the terminal's).")
    ] = None,
    plain: PlainOutput = False,
    json_out: JsonOutput = False,
    no_autostart: NoAutostart = False,
) -> None:
    """A completed backtest: its metrics and its equity curve against buy-and-hold, drawn
    in the terminal; --png/--svg also write the picture (with the drawdown and trades)."""
    with friendly_errors():
        from ktrdr.cli.backend import client_for
        from ktrdr.config import load_settings

        settings = load_settings()
        with client_for(no_autostart) as client:
            op = client.get_operation(operation_id)  # an unknown id: "not found", exit 1
            series = client.get_backtest_series(operation_id)  # 422 / 409 explain themselves
            base_url = client.base_url
        from ktrdr.cli.charts.show import print_backtest, write_picture

        written = write_picture(series, svg, png)
    if json_out:
        print_json(series.model_dump(mode="json"))
    else:
        from ktrdr.cli.views.console import live_suits, stdout_console

        console = stdout_console()
        color = live_suits(console, settings.no_color) and not plain
        print_backtest(console, op, series, base_url=base_url, color=color, width=width)
    for path in written:
        if json_out:  # stdout stays one JSON document
            sys.stderr.write(f"Wrote {terminal_safe(str(path))}\n")
        else:
            echo(f"Wrote {path}")
