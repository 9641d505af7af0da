"""The listing projection: the row (``ktrdr.records.summary``) a listing shows for an operation.

A listing (``ops list``, ``agent results``, ``agent status``) needs a few columns per
operation, not its whole result and parameters; at hundreds of thousands of operations the
difference is the whole cost of the read. The store keeps these columns beside the body so
a listing never parses a body; the full operation is read only for one operation.
"""

from __future__ import annotations

import math
from typing import Any

from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.research import (
    DeflatedSharpeRecord,
    IntervalRecord,
    OverfittingRecord,
    ResearchStatistics,
)
from ktrdr.records.results import (
    BacktestSummary,
    BenchmarkFigures,
    ResearchCycleSummary,
    TradingMetrics,
    TrainingSummary,
    research_cycle_summary_of,
    result_of,
)
from ktrdr.records.summary import Headline, OperationSummary, Scalar

# A listing never carries more of an error message than this.
SUMMARY_ERROR_CHARS = 200


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
    # Every kind's row names its strategy and where a cancel stopped it.
    common: dict[str, Any] = {"strategy_name": name, "stopped_at": stopped}
    if isinstance(result, TrainingSummary):
        row = Headline(
            **common,
            val_accuracy=_finite(result.val_accuracy),
            val_loss=_finite(result.val_loss),
            epochs_completed=result.epochs_completed,
        )
    elif isinstance(result, BacktestSummary):
        metrics = result.metrics or TradingMetrics()
        row = Headline(
            **common,
            sharpe_ratio=_finite(metrics.sharpe_ratio),
            total_return=_finite(metrics.total_return),
            num_trades=metrics.num_trades,
        )
    elif op.operation_type is OperationType.AGENT_RESEARCH:
        cycle = result if isinstance(result, ResearchCycleSummary) else ResearchCycleSummary()
        bench = cycle.benchmark or BenchmarkFigures()
        stats = cycle.statistics or ResearchStatistics()
        deflated = stats.deflated_sharpe or DeflatedSharpeRecord()
        excess = stats.holdout_excess or IntervalRecord()
        row = Headline(
            **common,
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
        )
    else:
        row = Headline(**common)
    return row.model_dump(mode="json", exclude_none=True)


# The row's fields that are the operation's own, as they are (the error message is cut).
_OWN_FIELDS = tuple(
    name
    for name in OperationSummary.model_fields
    if name in Operation.model_fields and name != "error_message"
)


def summarize(op: Operation) -> OperationSummary:
    phase = op.metadata.parameters.get("phase")
    cycle = research_cycle_summary_of(op)
    verdict = cycle.verdict if cycle is not None else None
    error = op.error_message
    if error is not None and len(error) > SUMMARY_ERROR_CHARS:
        error = error[: SUMMARY_ERROR_CHARS - 1] + "…"
    return OperationSummary(
        **{name: getattr(op, name) for name in _OWN_FIELDS},
        percentage=op.progress.percentage,
        current_step=op.progress.current_step,
        phase=str(phase) if isinstance(phase, str) and phase else None,
        verdict=verdict,
        headline=headline_of(op),
        error_message=error,
    )
