"""What a watched operation's end says: a summary per kind of operation, and one sentence for
each other way a follow can end (failed, cancelled, still stopping, lost, given up).

The lines are (text, style) pairs, so the live view can colour them and the plain view can
print the text alone.
"""

from __future__ import annotations

from ktrdr.cli.views.figures import MISSING, count, loss, percent, percents, ratio
from ktrdr.client.follow import ViewState, describe_stop
from ktrdr.contract.operations import OperationPublic
from ktrdr.contract.results import (
    BacktestSummary,
    BenchmarkFigures,
    CycleBacktest,
    CycleTraining,
    DeflatedSharpeRecord,
    IntervalRecord,
    ResearchCycleSummary,
    TradingMetrics,
    TrainingSummary,
    backtest_summary_of,
    research_cycle_summary_of,
    training_summary_of,
)
from ktrdr.records.kinds import KIND_LABEL, kind_noun
from ktrdr.records.models import OperationStatus, OperationType

OutcomeLine = tuple[str, str]  # (text, rich style; "" for none)


def _benchmark_line(bench: BenchmarkFigures) -> OutcomeLine:
    return (
        f"Buy & hold, same bars: Sharpe: {ratio(bench.sharpe_ratio)} | "
        f"Return: {percent(bench.total_return)} | "
        f"Max DD: {percent(bench.max_drawdown)}",
        "dim",
    )


def _text(value: object) -> str:
    return MISSING if value is None else str(value)


def _dates(start: str | None, end: str | None) -> str:
    """A backtest's span as the days of its first and last bar (ISO timestamps cut)."""
    return f"{(start or '')[:10]} → {(end or '')[:10]}"


def research_summary(summary: ResearchCycleSummary) -> list[OutcomeLine]:
    """A completed research cycle: what it designed, the verdict, and how it did."""
    lines: list[OutcomeLine] = [
        (f"Strategy: {_text(summary.strategy_name)}", ""),
        (f"Verdict: {_text(summary.verdict)}", "bold"),
        (
            f"Sharpe: {ratio(summary.sharpe_ratio)} | Win Rate: "
            f"{percent(summary.win_rate)} | Max DD: "
            f"{percent(summary.max_drawdown)}",
            "",
        ),
    ]
    bench = summary.benchmark or BenchmarkFigures()
    if bench.sharpe_ratio is not None:
        lines.append(_benchmark_line(bench))
    lines.extend(_evidence_lines(summary))
    training = summary.training or CycleTraining()
    backtest = summary.backtest or CycleBacktest()
    stats = summary.statistics
    best = ""
    if stats is not None and stats.best_epoch is not None:
        early = stats.stopped_epoch is not None and stats.stopped_epoch != training.epochs_total
        best = f" (best {count(stats.best_epoch)}{', stopped early' if early else ''})"
    trained = f"{count(training.epochs)} epochs{best}, val accuracy {percent(training.accuracy)}"
    tested = f"{_dates(backtest.start, backtest.end)}, {count(summary.trades)} trades"
    lines.append((f"Training: {trained} | Backtest: {_text(backtest.symbol)} {tested}", "dim"))
    return lines


def _evidence_lines(summary: ResearchCycleSummary) -> list[OutcomeLine]:
    """A walk-forward cycle's statistics that count every try (none for a classic one)."""
    stats = summary.statistics
    if stats is None:
        return []
    dsr = stats.deflated_sharpe or DeflatedSharpeRecord()
    excess = stats.holdout_excess or IntervalRecord()
    tries = f"best of {dsr.trials} tries" if dsr.trials else "tries unknown"
    verdict = {True: "significant", False: "not significant", None: "not measured"}
    shown = percents([excess.estimate, excess.low, excess.high], "+")
    lines: list[OutcomeLine] = [
        (
            f"Deflated Sharpe: {ratio(dsr.probability)} ({tries}) | Holdout vs buy & hold: "
            f"{shown[0]} [{shown[1]}, {shown[2]}] | {verdict[stats.significant]}",
            "bold" if stats.significant else "",
        )
    ]
    wf = summary.walk_forward
    pbo = stats.overfitting.probability if stats.overfitting else None
    if wf is not None:
        chosen = next((c for c in summary.candidates if c.chosen), None)
        pick = (
            f"candidate {chosen.index + 1} of {len(summary.candidates)}"
            if chosen is not None and chosen.index is not None
            else MISSING
        )
        lines.append(
            (
                f"Walk-forward: {_text(wf.description)} | chose {pick}"
                + (f" | PBO {ratio(pbo)}" if pbo is not None else ""),
                "dim",
            )
        )
    return lines


def training_summary(summary: TrainingSummary) -> list[OutcomeLine]:
    """A completed training: epochs, how well it validated, where the model is."""
    stopped = (
        f" (stopped early, best epoch {count(summary.best_epoch)})"
        if summary.stopped_early and summary.best_epoch is not None
        else ""
    )
    return [
        (
            f"Epochs: {count(summary.epochs_completed)}/"
            f"{count(summary.epochs_total)}{stopped} | Val accuracy: "
            f"{percent(summary.val_accuracy)} | Val loss: "
            f"{loss(summary.val_loss)}",
            "",
        ),
        (f"Model: {_text(summary.model_path)}", "dim"),
    ]


def backtest_summary(summary: BacktestSummary) -> list[OutcomeLine]:
    """A completed backtest: its metrics beside buying and holding, and what it ran on."""
    m = summary.metrics or TradingMetrics()
    lines: list[OutcomeLine] = [
        (
            f"Sharpe: {ratio(m.sharpe_ratio)} | Return: "
            f"{percent(m.total_return)} | Max DD: {percent(m.max_drawdown)} | "
            f"Win Rate: {percent(m.win_rate)} | Trades: {count(m.num_trades)}",
            "",
        )
    ]
    if summary.benchmark is not None:
        lines.append(_benchmark_line(summary.benchmark))
    lines.append(
        (
            f"{summary.symbol or ''} {_dates(summary.start, summary.end)}, "
            f"{count(summary.bars)} bars; "
            f"detail: {_text(summary.detail_path)}",
            "dim",
        )
    )
    return lines


def summary_lines(op: OperationPublic) -> list[OutcomeLine]:
    """The result lines of ``op``'s kind (figures it did not record show as a dash)."""
    if op.operation_type is OperationType.AGENT_RESEARCH:
        return research_summary(research_cycle_summary_of(op) or ResearchCycleSummary())
    if op.operation_type is OperationType.TRAINING:
        return training_summary(training_summary_of(op) or TrainingSummary())
    return backtest_summary(backtest_summary_of(op) or BacktestSummary())


def completed_lines(op: OperationPublic) -> list[OutcomeLine]:
    name = KIND_LABEL[op.operation_type]
    return [(f"✓ {name} complete!", "bold green"), *summary_lines(op)]


def page_url(base_url: str, op: OperationPublic) -> str:
    """Where the backend's web page shows ``op``: a backtest's chart, or the operation's
    page (a cycle's timeline and pictures, a training's loss and accuracy per epoch)."""
    base = base_url.rstrip("/")
    if op.operation_type is OperationType.BACKTESTING:
        return f"{base}/backtests/{op.operation_id}"
    return f"{base}/operations/{op.operation_id}"


def view_line(base_url: str, op: OperationPublic) -> list[OutcomeLine]:
    """The summary's last line: the page to look at it in a browser."""
    url = page_url(base_url, op) if base_url else None  # no page without a backend URL
    # The live view indents a summary's details (so this reads "   View: ..." there).
    return [(f"View: {url}", "cyan")] if url else []


def failed_lines(op: OperationPublic) -> list[OutcomeLine]:
    name = KIND_LABEL[op.operation_type]
    return [(f"✗ {name} failed: {op.error_message or 'unknown error'}", "red")]


def cancelled_lines(state: ViewState, op: OperationPublic) -> list[OutcomeLine]:
    return [(f"✓ Cancelled. {describe_stop(op, state.child)}", "magenta")]


def still_stopping_lines(op: OperationPublic) -> list[OutcomeLine]:
    """Ctrl+C was pressed but the operation had not stopped when the monitor stopped waiting."""
    return [
        (
            f"⚠ Cancel requested; {kind_noun(op.operation_type)} is still stopping "
            f"(last seen: {op.progress.current_step or op.status.value}). "
            f"Check with: ktrdr ops show {op.operation_id}",
            "yellow",
        )
    ]


def lost_lines() -> list[OutcomeLine]:
    return [("Operation not found — may have been lost due to restart", "red")]


def down_for_shown(state: ViewState, give_up_after: float | None) -> float:
    """How long the backend has not answered, as a user reads it: the last try ends a little
    after the give-up time, but the user set that time, so it is the figure (25 s, not 29 s)."""
    down_for = state.connection.down_for
    return down_for if give_up_after is None else min(down_for, give_up_after)


def gave_up_lines(
    state: ViewState, base_url: str, give_up_after: float | None = None
) -> list[OutcomeLine]:
    """``give_up_after``: the give-up time (see ``down_for_shown``)."""
    down_for = down_for_shown(state, give_up_after)
    return [
        (
            f"✗ Gave up: the backend at {base_url or 'the configured URL'} has not answered "
            f"for {down_for:.0f} s. The operation may still be running; "
            f"re-attach with: ktrdr ops follow {state.operation_id}",
            "red",
        )
    ]


def outcome_lines(
    state: ViewState,
    *,
    interrupted: bool = False,
    base_url: str = "",
    give_up_after: float | None = None,
) -> list[OutcomeLine]:
    """The closing lines for every way a follow can end."""
    parent = state.parent
    if state.lost:
        return lost_lines()
    if state.gave_up or parent is None:
        return gave_up_lines(state, base_url, give_up_after)
    if parent.status is OperationStatus.COMPLETED:
        return [*completed_lines(parent), *view_line(base_url, parent)]
    if parent.status is OperationStatus.FAILED:
        return failed_lines(parent)
    if parent.status is OperationStatus.CANCELLED:
        return cancelled_lines(state, parent)
    if interrupted:
        return still_stopping_lines(parent)
    return [(f"{KIND_LABEL[parent.operation_type]} is {parent.status.value}", "")]
