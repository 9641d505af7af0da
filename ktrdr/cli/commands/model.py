"""`ktrdr model ...`: train a strategy's model (a watched operation) and list models."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ktrdr.cli.options import (
    InterruptAction,
    JsonOutput,
    NoAutostart,
)
from ktrdr.cli.output import ask, echo, friendly_errors, shown_as_json
from ktrdr.cli.watch_flags import WatchFlags, watch_flags
from ktrdr.cli.watching import start_and_watch

app = typer.Typer(help="Train models and list trained models.", no_args_is_help=True)

DateOpt = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])]


@app.command("train")
@watch_flags(InterruptAction.CANCEL)  # this command started the work
def train(
    strategy: Annotated[
        str,
        typer.Argument(help="A shipped example name (see `ktrdr model examples`) or a YAML path"),
    ],
    symbol: Annotated[str | None, typer.Option(help="Override the strategy's symbol.")] = None,
    timeframe: Annotated[str | None, typer.Option(help="Override the timeframe.")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Override the epochs.")] = None,
    train_start: DateOpt = None,
    train_end: DateOpt = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Start it and return without watching.")
    ] = False,
    *,
    flags: WatchFlags,
) -> None:
    """Train a model with live epoch progress; Ctrl+C cancels it."""
    from ktrdr.contract.requests import TrainingStartRequest, checked

    source: dict[str, Any] = {"strategy": strategy}
    with friendly_errors():
        path = Path(strategy)
        if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
            # A local file travels with the request: the backend may be on another machine.
            from ktrdr.jobs.strategy_files import read_strategy

            source = {"strategy_config": read_strategy(strategy)}
        request = checked(
            TrainingStartRequest,
            **source,
            symbol=symbol,
            timeframe=timeframe,
            epochs=epochs,
            train_start=train_start.date() if train_start else None,
            train_end=train_end.date() if train_end else None,
        )
    how = flags.watching(not detach)
    start_and_watch(lambda client: client.start_training(request), "Training", how)


@app.command("list")
def list_models(json_out: JsonOutput = False, no_autostart: NoAutostart = False) -> None:
    """List trained models, oldest first."""
    models = ask(no_autostart, lambda client: client.list_models())
    if shown_as_json(models, json_out):
        return
    if not models:
        typer.echo("No trained models yet. Train one: ktrdr model train rsi_mean_reversion")
        return
    for m in models:
        echo(f"{m.name:<40} {m.created_at[:19]}  {m.path}")


@app.command("examples")
def examples() -> None:
    """List the shipped example strategies."""
    from ktrdr.strategies.loader import list_examples

    for name in list_examples():
        typer.echo(name)
