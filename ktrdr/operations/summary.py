"""The listing projection: what a list of operations shows, without each operation's body.

A listing (``ops list``, ``agent results``, ``agent status``) needs a few columns per
operation, not its whole result and parameters; at hundreds of thousands of operations the
difference is the whole cost of the read. The store keeps these columns beside the body so
a listing never parses a body; the full operation is read only for one operation.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from ktrdr.operations.models import Operation, OperationStatus, OperationType
from ktrdr.operations.records import WireRecord
from ktrdr.operations.research_records import (
    DeflatedSharpeRecord,
    IntervalRecord,
    OverfittingRecord,
    ResearchStatistics,
)
from ktrdr.operations.results import (
    BacktestSummary,
    BenchmarkFigures,
    ResearchCycleSummary,
    TradingMetrics,
    TrainingSummary,
    research_cycle_summary_of,
    result_of,
)

# A listing never carries more of an error message than this.
SUMMARY_ERROR_CHARS = 200

Scalar = str | int | float | bool | None


class OperationSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    parent_operation_id: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime
    percentage: float = 0.0
    current_step: str | None = None
    phase: str | None = None  # a research cycle's phase; None for other kinds
    verdict: str | None = None  # a completed research cycle's verdict
    # A few result numbers that listings show side by side (see ``headline_of``).
    headline: dict[str, Scalar] = {}
    error_message: str | None = None
    cancel_requested: bool = False
    version: int = 1

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


class Headline(WireRecord):
    """The few result numbers a listing row carries (``OperationSummary.headline``), by kind:
    a research cycle's verdict figures and buy-and-hold's, a training's validation figures,
    a backtest's metrics; ``stopped_at`` for a cancelled operation."""

    strategy_name: str | None = None
    # research cycle
    sharpe_ratio: float | None = None
    total_return: float | None = None
    max_drawdown: float | None = None
    win_rate: float | None = None
    trades: int | None = None
    score: float | None = None
    benchmark_sharpe_ratio: float | None = None
    benchmark_total_return: float | None = None
    seed: int | None = None
    designer: str | None = None
    symbol: str | None = None
    # research cycle, walk-forward: the statistics that count every try
    deflated_sharpe: float | None = None
    trials: int | None = None  # "best of N"
    pbo: float | None = None
    excess_return: float | None = None  # the holdout's, over buy-and-hold
    excess_low: float | None = None  # its bootstrap interval
    excess_high: float | None = None
    folds: int | None = None
    candidates: int | None = None
    # training
    val_accuracy: float | None = None
    val_loss: float | None = None
    epochs_completed: int | None = None
    # backtest (also sharpe_ratio and total_return)
    num_trades: int | None = None
    stopped_at: str | None = None


def headline(row: OperationSummary) -> Headline:
    """A listing row's headline numbers, typed (missing or odd ones are None)."""
    return Headline.read(row.headline) or Headline()


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def headline_of(op: Operation) -> dict[str, Scalar]:
    """The handful of result numbers a listing shows for ``op``'s kind."""
    result = result_of(op)
    params = op.metadata.parameters
    name = (result.strategy_name if result is not None else None) or _text(
        params.get("strategy_name")
    )
    stopped = (
        result.stopped_at if result is not None and op.status is OperationStatus.CANCELLED else None
    )
    if isinstance(result, TrainingSummary):
        row = Headline(
            strategy_name=name,
            val_accuracy=_finite(result.val_accuracy),
            val_loss=_finite(result.val_loss),
            epochs_completed=result.epochs_completed,
            stopped_at=stopped,
        )
    elif isinstance(result, BacktestSummary):
        metrics = result.metrics or TradingMetrics()
        row = Headline(
            strategy_name=name,
            sharpe_ratio=_finite(metrics.sharpe_ratio),
            total_return=_finite(metrics.total_return),
            num_trades=metrics.num_trades,
            stopped_at=stopped,
        )
    elif op.operation_type is OperationType.AGENT_RESEARCH:
        cycle = result if isinstance(result, ResearchCycleSummary) else ResearchCycleSummary()
        bench = cycle.benchmark or BenchmarkFigures()
        stats = cycle.statistics or ResearchStatistics()
        deflated = stats.deflated_sharpe or DeflatedSharpeRecord()
        excess = stats.holdout_excess or IntervalRecord()
        row = Headline(
            strategy_name=name,
            sharpe_ratio=_finite(cycle.sharpe_ratio),
            total_return=_finite(cycle.total_return),
            max_drawdown=_finite(cycle.max_drawdown),
            win_rate=_finite(cycle.win_rate),
            trades=cycle.trades,
            score=_finite(cycle.score),
            benchmark_sharpe_ratio=_finite(bench.sharpe_ratio),
            benchmark_total_return=_finite(bench.total_return),
            seed=_whole(params.get("seed")),
            designer=_text(params.get("designer")),
            symbol=_text(params.get("symbol")),
            deflated_sharpe=_finite(deflated.probability),
            trials=deflated.trials,
            pbo=_finite((stats.overfitting or OverfittingRecord()).probability),
            excess_return=_finite(excess.estimate),
            excess_low=_finite(excess.low),
            excess_high=_finite(excess.high),
            folds=len(cycle.walk_forward.folds) if cycle.walk_forward else None,
            candidates=len(cycle.candidates) or None,
            stopped_at=stopped,
        )
    else:
        row = Headline(strategy_name=name, stopped_at=stopped)
    return row.model_dump(mode="json", exclude_none=True)


def summarize(op: Operation) -> OperationSummary:
    phase = op.metadata.parameters.get("phase")
    cycle = research_cycle_summary_of(op)
    verdict = cycle.verdict if cycle is not None else None
    error = op.error_message
    if error is not None and len(error) > SUMMARY_ERROR_CHARS:
        error = error[: SUMMARY_ERROR_CHARS - 1] + "…"
    return OperationSummary(
        operation_id=op.operation_id,
        operation_type=op.operation_type,
        status=op.status,
        parent_operation_id=op.parent_operation_id,
        created_at=op.created_at,
        started_at=op.started_at,
        completed_at=op.completed_at,
        updated_at=op.updated_at,
        percentage=op.progress.percentage,
        current_step=op.progress.current_step,
        phase=str(phase) if isinstance(phase, str) and phase else None,
        verdict=verdict,
        headline=headline_of(op),
        error_message=error,
        cancel_requested=op.cancel_requested,
        version=op.version,
    )
