"""What each kind of operation keeps as its result (``Operation.result_summary``), typed.

The operation stores a plain dict (old rows, the API and tools read it as JSON); these
records name its keys once. Producers build a record and store ``record.to_dict()``, so a
renamed key is a type error where it is written; readers go through ``result_of`` and
friends, which never raise on an old or odd row (missing figures are None).

The JSON keys are the ones the producers wrote before these records existed.
"""

from __future__ import annotations

from typing import Any

from ktrdr.records.models import OperationType, OperationView
from ktrdr.records.research import (
    CandidateRecord,
    ResearchStatistics,
    WalkForwardRecord,
)
from ktrdr.records.wire import KindReader, KindTable, WireRecord


class OperationResult(WireRecord):
    """What any operation's result may say about how it ended early (the service and the
    executor write these when work is cancelled)."""

    stopped_at: str | None = None  # e.g. "Epoch 67/100"
    forced: bool | None = None  # the cancel was never acknowledged and was forced
    reason: str | None = None


# --- training ------------------------------------------------------------------------------


class EpochFigures(WireRecord):
    """One epoch's numbers, made once by the training engine: a training's ``history`` rows,
    its progress context and the rows ``GET /training/{id}/history`` answers."""

    epoch: int | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    train_accuracy: float | None = None
    val_accuracy: float | None = None


class TrainingSummary(OperationResult):
    """A finished training. The loss and accuracy figures are the kept model's, which is the
    best validation epoch's (early stopping); ``history`` has every epoch run, and
    ``final_val_loss`` the last one's, so a loss that climbed after its best shows."""

    strategy_name: str | None = None
    model_path: str | None = None
    epochs_completed: int | None = None  # epochs run (the stopped epoch)
    epochs_total: int | None = None  # the budget
    train_loss: float | None = None
    val_loss: float | None = None
    train_accuracy: float | None = None
    val_accuracy: float | None = None
    train_samples: int | None = None
    val_samples: int | None = None
    feature_names: tuple[str, ...] = ()
    train_range: tuple[str, str] | None = None
    val_range: tuple[str, str] | None = None
    train_label_counts: dict[str, int] = {}
    history: tuple[EpochFigures, ...] = ()
    best_epoch: int | None = None  # the epoch whose weights were kept
    stopped_epoch: int | None = None  # the last epoch run
    stopped_early: bool | None = None  # patience ran out before the epoch budget
    best_val_loss: float | None = None
    final_val_loss: float | None = None  # the last epoch's validation loss

    def overfit_ratio(self) -> float | None:
        """The last epoch's validation loss over the best one's: 1.0 when training ended at
        its best, 2.9 when the loss kept climbing to nearly three times it; None if unknown."""
        final, best, inf = self.final_val_loss, self.best_val_loss, float("inf")
        # Comparisons with NaN are false, so an odd stored figure gives None, not NaN.
        if final is None or best is None or not (0 <= final < inf and 0 < best < inf):
            return None
        return final / best


# --- backtest ------------------------------------------------------------------------------


class TradingMetrics(WireRecord):
    """A backtest's figures, made once by ``ktrdr.backtesting.metrics.compute_metrics``."""

    total_return: float | None = None
    annualised_return: float | None = None
    sharpe_ratio: float | None = None
    sortino_ratio: float | None = None
    max_drawdown: float | None = None
    win_rate: float | None = None
    num_trades: int | None = None
    profit_factor: float | None = None
    exposure: float | None = None


class BenchmarkFigures(WireRecord):
    """Buying at the first close and selling at the last, same bars and costs (made by the
    backtest engine's ``buy_and_hold``)."""

    name: str | None = None  # set in a research cycle's result
    total_return: float | None = None
    annualised_return: float | None = None
    sharpe_ratio: float | None = None
    max_drawdown: float | None = None


class EquityCurve(WireRecord):
    timestamps: tuple[str, ...] = ()
    values: tuple[float, ...] = ()


class BacktestSummary(OperationResult):
    symbol: str | None = None
    timeframe: str | None = None
    mode: str | None = None
    start: str | None = None  # ISO timestamps of the first and last bar
    end: str | None = None
    bars: int | None = None
    initial_capital: float | None = None
    final_equity: float | None = None
    metrics: TradingMetrics | None = None
    benchmark: BenchmarkFigures | None = None
    equity_curve: EquityCurve | None = None  # thinned; the full one is in detail_path
    strategy_name: str | None = None
    model: str | None = None  # the trained model's directory
    trades_count: int | None = None
    detail_path: str | None = None


# --- research cycle ------------------------------------------------------------------------


class CycleTraining(WireRecord):
    """What a research cycle keeps of its training child."""

    operation_id: str | None = None
    epochs: int | None = None
    epochs_total: int | None = None
    accuracy: float | None = None  # validation accuracy
    train_accuracy: float | None = None
    val_loss: float | None = None
    model_path: str | None = None


class CycleBacktest(WireRecord):
    """What a research cycle keeps of its backtest child."""

    symbol: str | None = None
    start: str | None = None
    end: str | None = None
    bars: int | None = None
    detail_path: str | None = None


class ResearchCycleSummary(OperationResult):
    """A completed cycle's verdict and figures; a failed or cancelled one keeps ``phase``
    (where it was) and, when cancelled, ``stopped_at``."""

    phase: str | None = None
    strategy_name: str | None = None
    verdict: str | None = None  # promising | neutral | poor
    score: float | None = None
    sharpe_ratio: float | None = None
    win_rate: float | None = None
    max_drawdown: float | None = None
    total_return: float | None = None
    trades: int | None = None
    profit_factor: float | None = None
    exposure: float | None = None
    reasons: tuple[str, ...] = ()
    # One per reason: failed | caution | passed | recap (older results have none).
    reason_outcomes: tuple[str, ...] = ()
    benchmark: BenchmarkFigures | None = None
    training: CycleTraining | None = None
    backtest: CycleBacktest | None = None
    designer: str | None = None
    seed: int | None = None
    # The designed strategy as JSON: kept loose here, since an old design need not be a
    # valid strategy today (``ktrdr agent strategy`` validates it when it is used).
    strategy: dict[str, Any] | None = None
    # A walk-forward cycle: the figures above are the chosen candidate's on the holdout,
    # ``training`` its final training and ``backtest`` its holdout backtest.
    walk_forward: WalkForwardRecord | None = None
    candidates: tuple[CandidateRecord, ...] = ()
    statistics: ResearchStatistics | None = None


AnyResult = TrainingSummary | BacktestSummary | ResearchCycleSummary


def _stored_result(op: OperationView) -> object:
    return op.result_summary


# Each kind's result as its record; None for another kind (or no result).
training_summary_of = KindReader(OperationType.TRAINING, TrainingSummary, _stored_result)
backtest_summary_of = KindReader(OperationType.BACKTESTING, BacktestSummary, _stored_result)
research_cycle_summary_of = KindReader(
    OperationType.AGENT_RESEARCH, ResearchCycleSummary, _stored_result
)
# ``op``'s result as its kind's record; None when it has none (or an unknown kind).
result_of: KindTable[AnyResult] = KindTable(
    training_summary_of, backtest_summary_of, research_cycle_summary_of
)


def stopped_at_of(op: OperationView) -> str | None:
    """Where a cancelled operation's work stopped, as its result recorded it."""
    result = result_of(op)
    return result.stopped_at if result is not None and result.stopped_at else None
