"""`ktrdr model ...`: train a strategy's model (a watched operation) and list models."""

from __future__ import annotations

import heapq
import re
from datetime import datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ktrdr.cli.options import (
    InterruptAction,
    JsonOutput,
    NoAutostart,
)
from ktrdr.cli.output import ask, echo, friendly_errors, shown_as_json
from ktrdr.cli.watch_flags import WatchFlags, watch_flags
from ktrdr.cli.watching import start_and_watch
from ktrdr.errors import ApiError, InvalidRequestError, KtrdrError

if TYPE_CHECKING:
    from ktrdr.contract.catalog import ModelPublic

app = typer.Typer(help="Train models and list trained models.", no_args_is_help=True)

TrainStartOpt = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d"], help="First day of training data (default: the strategy's)."
    ),
]
TrainEndOpt = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Last day of training data (default: the strategy's)."),
]


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
    train_start: TrainStartOpt = None,
    train_end: TrainEndOpt = None,
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

    start_and_watch(
        lambda client: client.start_training(request),
        "Training",
        how,
        reword=lambda exc: _plain_strategy_refusal(exc, strategy),
    )


def _plain_strategy_refusal(exc: ApiError, strategy: str) -> KtrdrError:
    """The backend's refusal of an unknown strategy name is written for API callers (it
    offers `strategy_config`); a CLI user gets where strategies come from instead."""
    if exc.details.get("field") != "strategy" or not exc.message.startswith("no such strategy"):
        return exc
    from ktrdr.config import load_settings
    from ktrdr.strategies.loader import list_examples

    folder = load_settings().data_dir / "strategies"
    return InvalidRequestError(
        f"no strategy named {strategy!r}. A strategy is a shipped example "
        f"({', '.join(list_examples())}; see `ktrdr model examples`), a .yaml file in the "
        f"backend's strategies folder ({folder} for a local backend), or a path to a .yaml file"
    )


@app.command("list")
def list_models(json_out: JsonOutput = False, no_autostart: NoAutostart = False) -> None:
    """List trained models, oldest first."""
    models = ask(no_autostart, lambda client: client.list_models())
    if shown_as_json(models, json_out):
        return
    if not models:
        typer.echo("No trained models yet. Train one: ktrdr model train rsi_mean_reversion")
        return
    echo(f"{'STRATEGY':<32} {'#':>4}  {'CREATED':<19}  PATH")
    for m in oldest_first(models):
        echo(f"{m.name:<32} {_sequence(m):>4}  {m.created_at[:19]:<19}  {m.path}")


def _sequence(model: ModelPublic) -> int:
    """The model's number within its strategy, from its directory name `<sequence>-<stamp>`
    (0: a directory from before numbering)."""
    found = re.match(r"(\d+)-", PurePath(model.path).name)
    return int(found[1]) if found else 0


def oldest_first(models: list[ModelPublic]) -> list[ModelPublic]:
    """All strategies' models in the order they were made. Within a strategy its sequence
    decides (a clock set back must not reorder it); across strategies, the creation times
    interleave the per-strategy sequences."""
    by_strategy: dict[str, list[ModelPublic]] = {}
    for model in models:
        by_strategy.setdefault(model.name, []).append(model)
    lines = [sorted(group, key=_sequence) for group in by_strategy.values()]
    return list(heapq.merge(*lines, key=lambda m: m.created_at))


@app.command("examples")
def examples() -> None:
    """List the shipped example strategies."""
    from ktrdr.strategies.loader import list_examples

    for name in list_examples():
        typer.echo(name)
