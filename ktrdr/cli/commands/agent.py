"""`ktrdr agent ...`: start research cycles and see how they are doing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ktrdr.cli.commands.compare import compare
from ktrdr.cli.options import (
    InterruptAction,
    JsonOutput,
    NoAutostart,
    checked_operation_id,
)
from ktrdr.cli.output import ask, friendly_errors, print_json, shown_as_json
from ktrdr.cli.watch_flags import WatchFlags, watch_flags
from ktrdr.cli.watching import start_and_watch
from ktrdr.records.kinds import OperationType

if TYPE_CHECKING:
    from ktrdr.contract.requests import AgentTriggerRequest

app = typer.Typer(
    help="Run research cycles: design, train, backtest, assess.", no_args_is_help=True
)

MonitorOpt = Annotated[
    bool,
    typer.Option(
        "--monitor", "--follow", "-f", help="Watch it live (nested progress; Ctrl+C cancels)."
    ),
]
ReattachOpt = Annotated[
    bool,
    typer.Option(
        "--follow",
        "--monitor",
        "-f",
        help="Re-attach the live monitor (Ctrl+C stops watching; the cycle keeps running).",
    ),
]


# The flags of `agent trigger`, one alias each so the command reads as a list of them.
DesignerModel = Annotated[
    str | None,
    typer.Option(
        "-m",
        "--model",
        help="LLM designer: haiku, sonnet or opus (needs "
        "ANTHROPIC_API_KEY). Default: the built-in offline designer.",
    ),
]
StrategySource = Annotated[
    str | None,
    typer.Option(
        "--strategy",
        "-s",
        help="Research your strategy (an example, a name in the backend's strategies "
        "folder, or a .yaml file): its grid's variants are the candidates, its "
        "walk_forward the defaults for the flags below.",
    ),
]
SeedOpt = Annotated[int | None, typer.Option(min=0, help="Reproduce a cycle's design.")]
SymbolOpt = Annotated[str | None, typer.Option(help="Market to research (default SP500).")]
TimeframeOpt = Annotated[
    str | None, typer.Option(help="Bar size: 1d, 1h, 5m ... (default: the strategy's).")
]
EpochsOpt = Annotated[int | None, typer.Option(min=1, help="Override the training epochs.")]
FoldsOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=20,
        help="Walk-forward folds each candidate is evaluated on (0: one train/test "
        "split, the classic cycle). Default: the backend's KTRDR_RESEARCH_FOLDS (4).",
    ),
]
CandidatesOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=64,
        help="Candidate designs, each walk-forwarded; the best on the folds is scored "
        "once on the holdout. Default: KTRDR_RESEARCH_CANDIDATES (4).",
    ),
]
HoldoutOpt = Annotated[
    float | None,
    typer.Option(
        min=0.01,
        max=0.49,
        help="Share of the series at its end kept for the final score (default 0.15).",
    ),
]
PurgeOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=500,
        help="Bars left out between each training window and its test window "
        "(default: the label horizon).",
    ),
]
RollingOpt = Annotated[
    bool | None,
    typer.Option(
        "--rolling/--anchored",
        help="Rolling training windows of a fixed length, or anchored ones that start "
        "at the first bar (the default, unless --strategy says otherwise).",
        show_default=False,
    ),
]
PatienceOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Stop a training after this many epochs without a better validation loss "
        "and keep its best epoch (0: every epoch). Default: KTRDR_RESEARCH_PATIENCE (10).",
    ),
]
CountOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=64,
        help="Start this many cycles, seeds S, S+1, ... (--seed S; the backend's "
        "KTRDR_MAX_ACTIVE_CYCLES must allow them); -f follows them all on one board.",
    ),
]


@app.command("trigger")
@watch_flags(InterruptAction.CANCEL)  # this command started the work
def trigger(
    model: DesignerModel = None,
    strategy: StrategySource = None,
    seed: SeedOpt = None,
    symbol: SymbolOpt = None,
    timeframe: TimeframeOpt = None,
    epochs: EpochsOpt = None,
    folds: FoldsOpt = None,
    candidates: CandidatesOpt = None,
    holdout: HoldoutOpt = None,
    purge: PurgeOpt = None,
    rolling: RollingOpt = None,
    patience: PatienceOpt = None,
    count: CountOpt = None,
    monitor: MonitorOpt = False,
    *,
    flags: WatchFlags,
) -> None:
    """Start a research cycle (fire and forget unless --monitor/--follow/-f)."""
    from ktrdr.contract.requests import AgentTriggerRequest, checked

    payload = _trigger_payload(
        model, seed, symbol, timeframe, epochs, folds, candidates, holdout, purge, rolling, patience
    )
    with friendly_errors():
        source = _strategy_payload(strategy) if strategy is not None else {}
        request = checked(AgentTriggerRequest, **payload, **source)
    if count is not None:
        _trigger_many(request, count, monitor, flags)
        return
    how = flags.watching(monitor)
    start_and_watch(lambda client: client.trigger_cycle(request), "Research cycle", how)


def _trigger_payload(
    model: str | None,
    seed: int | None,
    symbol: str | None,
    timeframe: str | None,
    epochs: int | None,
    folds: int | None,
    candidates: int | None,
    holdout: float | None,
    purge: int | None,
    rolling: bool | None,
    patience: int | None,
) -> dict[str, Any]:
    """The body of ``POST /agent/trigger`` from the flags, in the order ``trigger`` declares
    them: None leaves a field to the strategy's or the backend's default. An unknown designer
    is a usage error."""
    if model is not None and model not in ("haiku", "sonnet", "opus"):
        from ktrdr.cli.output import EXIT_USAGE, fail

        fail(f"unknown model {model!r}; choose haiku, sonnet or opus", EXIT_USAGE)
    return {
        "model": model,
        "seed": seed,
        "symbol": symbol,
        "timeframe": timeframe,
        "epochs": epochs,
        "folds": folds,
        "candidates": candidates,
        "holdout_fraction": holdout,
        "purge_bars": purge,
        "walk_forward_mode": None if rolling is None else ("rolling" if rolling else "anchored"),
        "patience": patience,
    }


def _strategy_payload(strategy: str) -> dict[str, Any]:
    """A local file travels with the request as ``strategy_config`` (the backend may be on
    another machine); anything else is a name the backend resolves."""
    path = Path(strategy)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        from ktrdr.jobs.strategy_files import read_strategy

        return {"strategy_config": read_strategy(strategy)}
    return {"strategy": strategy}


def _trigger_many(
    request: AgentTriggerRequest, count: int, monitor: bool, flags: WatchFlags
) -> None:
    """Start ``count`` cycles; with -f, follow them on one board (``flags``: --notify, and
    what Ctrl+C does to the batch)."""
    import secrets

    from ktrdr.cli.backend import client_for
    from ktrdr.cli.many_cycles import announce, follow_cycles, start_cycles
    from ktrdr.config import load_settings

    seed = request.seed
    first_seed = seed if seed is not None else secrets.randbelow(1_000_000)
    with friendly_errors():
        settings = load_settings()
        with client_for(flags.no_autostart) as client:
            cycles = start_cycles(client, request, first_seed, count)
            base_url = client.base_url
    announce(cycles, flags.json_out)
    if monitor:
        code = follow_cycles(
            base_url,
            cycles,
            settings,
            plain=flags.plain or flags.json_out,
            notify=flags.notify and not flags.json_out,
            on_interrupt=flags.on_interrupt,
        )
        raise typer.Exit(code)


@app.command("status")
@watch_flags(InterruptAction.DETACH)  # re-attached: looking in must not cancel
def status(
    follow: ReattachOpt = False,
    *,
    flags: WatchFlags,
) -> None:
    """The running cycle (phase, progress, child) or the last cycle's result."""
    current, base_url = ask(
        flags.no_autostart, lambda client: (client.agent_status(), client.base_url)
    )
    if follow and current.cycle is not None:
        flags.watch(base_url, current.cycle.operation_id)
    if shown_as_json(current, flags.json_out):
        return
    from ktrdr.cli.views.agent_status import agent_status_view
    from ktrdr.cli.views.console import stdout_console

    stdout_console().print(agent_status_view(current))


@app.command("results")
def results(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many recent cycles.")] = 20,
    sort: Annotated[
        str,
        typer.Option(
            help="dsr (deflated Sharpe, cycles without one last), newest, sharpe or verdict "
            "(completed cycles first)."
        ),
    ] = "dsr",
    json_out: JsonOutput = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Past research cycles ranked, one under the other (to compare a few side by side:
    ktrdr agent compare).

    Each shows its strategy, verdict, Sharpe vs buy-and-hold, and the statistics that count
    every try (deflated Sharpe, PBO, the holdout's excess return)."""
    from ktrdr.cli.views.tables import RESULT_SORTS

    if sort not in RESULT_SORTS:
        from ktrdr.cli.output import EXIT_USAGE, fail

        fail(f"unknown sort {sort!r}: use {', '.join(RESULT_SORTS)}", EXIT_USAGE)
    with friendly_errors():
        from ktrdr.cli.backend import client_for

        with client_for(no_autostart) as client:
            cycles, total = client.list_operations(
                operation_type=OperationType.AGENT_RESEARCH, limit=limit
            )
    from ktrdr.cli.views.tables import results_listing, sorted_results

    ordered = sorted_results(cycles, sort)
    if json_out:
        print_json(
            [
                {
                    "operation_id": row.operation_id,
                    "status": row.status.value,
                    "created_at": row.created_at.isoformat(),
                    "verdict": row.verdict,
                    **row.headline,
                }
                for row in ordered
            ]
        )
        return
    from ktrdr.cli.views.console import stdout_console

    console = stdout_console()
    if not ordered:
        console.print("No research cycles yet. Start one: ktrdr agent trigger --monitor")
        return
    console.print(results_listing(ordered, total, console.width))


app.command("compare")(compare)  # its body and options: commands/compare.py


@app.command("strategy")
def strategy(
    cycle_id: Annotated[
        str,
        typer.Argument(help="A completed research cycle's id.", callback=checked_operation_id),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the YAML here (default: print it)."),
    ] = None,
    no_autostart: NoAutostart = False,
) -> None:
    """A cycle's designed strategy as YAML, to edit and train again with `ktrdr model train`."""
    from pydantic import ValidationError

    from ktrdr.cli.output import fail
    from ktrdr.cli.views.figures import readable_floats
    from ktrdr.strategies.loader import dump_strategy
    from ktrdr.strategies.models import StrategyConfig

    cycle = ask(no_autostart, lambda client: client.get_operation(cycle_id))
    if cycle.operation_type is not OperationType.AGENT_RESEARCH:
        fail(f"{cycle_id} is a {cycle.operation_type.value} operation, not a research cycle")
    from ktrdr.contract.results import research_cycle_summary_of

    summary = research_cycle_summary_of(cycle)
    design = summary.strategy if summary is not None else None
    if design is None:
        fail(
            f"research cycle {cycle_id} is {cycle.status.value} and kept no strategy "
            "(only completed cycles record their design)"
        )
    try:
        text = dump_strategy(StrategyConfig.model_validate(readable_floats(design)))
    except ValidationError as exc:
        fail(f"the strategy recorded in {cycle_id} is not valid here: {exc.errors()[0]['msg']}")
    if output is None:
        sys.stdout.write(text)
        return
    if output.suffix.lower() not in (".yaml", ".yml"):
        fail(f"{output}: use a .yaml or .yml file name", 2)
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    sys.stdout.write(f"Wrote {output}. Train it: ktrdr model train {output}\n")
