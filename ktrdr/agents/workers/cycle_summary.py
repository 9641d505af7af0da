"""A completed research cycle's summary: the assessment's inputs gathered from its
training and backtest children, the verdict, and the figures a listing shows."""

from __future__ import annotations

import math
from collections.abc import Mapping

from ktrdr.agents.design.assessment import AssessmentInput, Evidence, assess
from ktrdr.records.models import Operation
from ktrdr.records.results import (
    BacktestSummary,
    BenchmarkFigures,
    CycleBacktest,
    CycleTraining,
    ResearchCycleSummary,
    TradingMetrics,
    TrainingSummary,
    training_summary_of,
)
from ktrdr.strategies.models import StrategyConfig


def _finite(value: float | None, default: float = 0.0) -> float:
    return value if value is not None and math.isfinite(value) else default


def _optional_finite(value: float | None) -> float | None:
    """Unknown stays unknown (None) instead of becoming a misleading 0."""
    return value if value is not None and math.isfinite(value) else None


def _baseline_accuracy(label_counts: Mapping[str, int]) -> float | None:
    counts = [float(v) for v in label_counts.values()]
    total = sum(counts)
    return max(counts) / total if total > 0 else None


def _cycle_training(operation_id: str, train: TrainingSummary) -> CycleTraining:
    return CycleTraining(
        operation_id=operation_id,
        epochs=train.epochs_completed,
        epochs_total=train.epochs_total,
        accuracy=train.val_accuracy,
        train_accuracy=train.train_accuracy,
        val_loss=train.val_loss,
        model_path=train.model_path,
    )


def cycle_summary(
    strategy: StrategyConfig,
    designer: str,
    seed: int,
    training: Operation,
    backtest: BacktestSummary,
    evidence: Evidence | None = None,
) -> ResearchCycleSummary:
    """A completed cycle's verdict and figures: the backtest's metrics against buy-and-hold,
    the training's, and (a walk-forward cycle) the evidence that counts every try."""
    train = training_summary_of(training) or TrainingSummary()
    metrics = backtest.metrics or TradingMetrics()
    benchmark = backtest.benchmark or BenchmarkFigures()
    profit_factor = metrics.profit_factor
    inputs = AssessmentInput(
        sharpe_ratio=_finite(metrics.sharpe_ratio),
        total_return=_finite(metrics.total_return),
        max_drawdown=_finite(metrics.max_drawdown),
        win_rate=_finite(metrics.win_rate),
        num_trades=metrics.num_trades or 0,
        profit_factor=None if profit_factor is None else _finite(profit_factor),
        exposure=_finite(metrics.exposure),
        val_accuracy=_optional_finite(train.val_accuracy),
        baseline_accuracy=_baseline_accuracy(train.train_label_counts),
        benchmark_sharpe=_optional_finite(benchmark.sharpe_ratio),
        benchmark_return=_optional_finite(benchmark.total_return),
        evidence=evidence,
    )
    assessment = assess(inputs)
    return ResearchCycleSummary(
        strategy_name=strategy.name,
        verdict=assessment.verdict,
        score=assessment.score,
        sharpe_ratio=inputs.sharpe_ratio,
        win_rate=inputs.win_rate,
        max_drawdown=inputs.max_drawdown,
        total_return=inputs.total_return,
        trades=inputs.num_trades,
        profit_factor=inputs.profit_factor,
        exposure=inputs.exposure,
        reasons=tuple(assessment.reasons),
        reason_outcomes=tuple(assessment.outcomes),
        benchmark=BenchmarkFigures(
            name="buy and hold, same bars and costs",
            sharpe_ratio=inputs.benchmark_sharpe,
            total_return=inputs.benchmark_return,
            max_drawdown=_optional_finite(benchmark.max_drawdown),
        ),
        training=_cycle_training(training.operation_id, train),
        backtest=CycleBacktest.part_of(backtest),
        designer=designer,
        seed=seed,
        strategy=strategy.model_dump(mode="json"),
    )
