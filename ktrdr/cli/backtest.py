"""`ktrdr backtest run`: backtest a trained model out of sample, watched live."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from ktrdr.cli.options import JsonOutput, NoAutostart, ProgressMode, ProgressOutput
from ktrdr.cli.watching import PlainOutput, start_and_watch

app = typer.Typer(help="Backtest trained models.", no_args_is_help=True)

DateOpt = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])]


@app.command("run")
def run(
    model: Annotated[
        str, typer.Argument(help="A model directory, or a strategy name (its newest model)")
    ],
    symbol: Annotated[str | None, typer.Option(help="Default: the model's symbol.")] = None,
    timeframe: Annotated[str | None, typer.Option()] = None,
    start: DateOpt = None,
    end: DateOpt = None,
    mode: Annotated[
        str | None, typer.Option(help="long_flat or long_short (default: the strategy's).")
    ] = None,
    commission: Annotated[float | None, typer.Option(min=0.0)] = None,
    slippage: Annotated[float | None, typer.Option(min=0.0)] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Start and return.")] = False,
    json_out: JsonOutput = False,
    plain: PlainOutput = False,
    progress: ProgressOutput = ProgressMode.AUTO,
    no_autostart: NoAutostart = False,
) -> None:
    """Run a backtest with live progress; prints the metrics at the end."""
    payload: dict[str, Any] = {
        "model": model,
        "symbol": symbol,
        "timeframe": timeframe,
        "start_date": start.date().isoformat() if start else None,
        "end_date": end.date().isoformat() if end else None,
        "mode": mode,
        "commission": commission,
        "slippage": slippage,
    }
    start_and_watch(
        "/backtests/start",
        payload,
        what="Backtest",
        watch_it=not detach,
        json_out=json_out,
        plain=plain,
        no_autostart=no_autostart,
        progress=progress,
    )
