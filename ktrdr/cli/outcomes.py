"""What a watched operation's end says: a summary per kind of operation, and one sentence for
each other way a follow can end (failed, cancelled, still stopping, lost, given up).

The lines are (text, style) pairs, so the live view can colour them and the plain view can
print the text alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ktrdr.cli.figures import number, percent
from ktrdr.client.follow import ViewState, describe_stop
from ktrdr.contract.operations import OperationPublic
from ktrdr.operations.models import OperationStatus, OperationType

OutcomeLine = tuple[str, str]  # (text, rich style; "" for none)
Summary = dict[str, Any]

KIND_NAME: dict[OperationType, str] = {
    OperationType.AGENT_RESEARCH: "Research cycle",
    OperationType.TRAINING: "Training",
    OperationType.BACKTESTING: "Backtest",
}


def _benchmark_line(bench: Summary) -> OutcomeLine:
    return (
        f"Buy & hold, same bars: Sharpe {number(bench.get('sharpe_ratio'))} | "
        f"Return {percent(bench.get('total_return'))} | "
        f"Max DD {percent(bench.get('max_drawdown'))}",
        "dim",
    )


def research_summary(summary: Summary) -> list[OutcomeLine]:
    """A completed research cycle: what it designed, the verdict, and how it did."""
    lines: list[OutcomeLine] = [
        (f"Strategy: {summary.get('strategy_name', '-')}", ""),
        (f"Verdict: {summary.get('verdict', '-')}", "bold"),
        (
            f"Sharpe: {number(summary.get('sharpe_ratio'))} | Win Rate: "
            f"{percent(summary.get('win_rate'))} | Max DD: "
            f"{percent(summary.get('max_drawdown'))}",
            "",
        ),
    ]
    bench = summary.get("benchmark") or {}
    if bench.get("sharpe_ratio") is not None:
        lines.append(_benchmark_line(bench))
    training = summary.get("training") or {}
    backtest = summary.get("backtest") or {}
    lines.append(
        (
            f"Training: {training.get('epochs', '-')} epochs, val accuracy "
            f"{percent(training.get('accuracy'))} | Backtest: {backtest.get('symbol', '-')} "
            f"{str(backtest.get('start') or '')[:10]} → "
            f"{str(backtest.get('end') or '')[:10]}, {summary.get('trades', '-')} trades",
            "dim",
        )
    )
    return lines


def training_summary(summary: Summary) -> list[OutcomeLine]:
    """A completed training: epochs, how well it validated, where the model is."""
    return [
        (
            f"Epochs: {summary.get('epochs_completed', '-')}/"
            f"{summary.get('epochs_total', '-')} | Val accuracy: "
            f"{percent(summary.get('val_accuracy'))} | Val loss: "
            f"{number(summary.get('val_loss'), '.4f')}",
            "",
        ),
        (f"Model: {summary.get('model_path', '-')}", "dim"),
    ]


def backtest_summary(summary: Summary) -> list[OutcomeLine]:
    """A completed backtest: its metrics beside buying and holding, and what it ran on."""
    m = summary.get("metrics") or {}
    lines: list[OutcomeLine] = [
        (
            f"Sharpe: {number(m.get('sharpe_ratio'))} | Return: "
            f"{percent(m.get('total_return'))} | Max DD: {percent(m.get('max_drawdown'))} | "
            f"Win Rate: {percent(m.get('win_rate'))} | Trades: {m.get('num_trades', '-')}",
            "",
        )
    ]
    bench = summary.get("benchmark") or {}
    if bench:
        lines.append(_benchmark_line(bench))
    lines.append(
        (
            f"{summary.get('symbol', '')} {summary.get('start', '')[:10]} → "
            f"{summary.get('end', '')[:10]}, {summary.get('bars', '-')} bars; "
            f"detail: {summary.get('detail_path', '-')}",
            "dim",
        )
    )
    return lines


SUMMARIES: dict[OperationType, Callable[[Summary], list[OutcomeLine]]] = {
    OperationType.AGENT_RESEARCH: research_summary,
    OperationType.TRAINING: training_summary,
    OperationType.BACKTESTING: backtest_summary,
}


def completed_lines(op: OperationPublic) -> list[OutcomeLine]:
    name = KIND_NAME[op.operation_type]
    return [
        (f"✓ {name} complete!", "bold green"),
        *SUMMARIES[op.operation_type](op.result_summary or {}),
    ]


def failed_lines(op: OperationPublic) -> list[OutcomeLine]:
    name = KIND_NAME[op.operation_type]
    return [(f"✗ {name} failed: {op.error_message or 'unknown error'}", "red")]


def cancelled_lines(state: ViewState, op: OperationPublic) -> list[OutcomeLine]:
    return [(f"✓ Cancelled. {describe_stop(op, state.child)}", "magenta")]


def still_stopping_lines(op: OperationPublic) -> list[OutcomeLine]:
    """Ctrl+C was pressed but the operation had not stopped when the monitor stopped waiting."""
    return [
        (
            f"⚠ Cancel requested; {KIND_NAME[op.operation_type].lower()} is still stopping "
            f"(last seen: {op.progress.current_step or op.status.value}). "
            f"Check with: ktrdr ops show {op.operation_id}",
            "yellow",
        )
    ]


def lost_lines() -> list[OutcomeLine]:
    return [("Operation not found — may have been lost due to restart", "red")]


def gave_up_lines(state: ViewState, base_url: str) -> list[OutcomeLine]:
    return [
        (
            f"✗ Gave up: the backend at {base_url or 'the configured URL'} has not answered "
            f"for {state.connection.down_for:.0f}s. The operation may still be running; "
            f"re-attach with: ktrdr ops follow {state.operation_id}",
            "red",
        )
    ]


def outcome_lines(
    state: ViewState, *, interrupted: bool = False, base_url: str = ""
) -> list[OutcomeLine]:
    """The closing lines for every way a follow can end."""
    parent = state.parent
    if state.lost:
        return lost_lines()
    if state.gave_up or parent is None:
        return gave_up_lines(state, base_url)
    if parent.status is OperationStatus.COMPLETED:
        return completed_lines(parent)
    if parent.status is OperationStatus.FAILED:
        return failed_lines(parent)
    if parent.status is OperationStatus.CANCELLED:
        return cancelled_lines(state, parent)
    if interrupted:
        return still_stopping_lines(parent)
    return [(f"{KIND_NAME[parent.operation_type]} is {parent.status.value}", "")]
