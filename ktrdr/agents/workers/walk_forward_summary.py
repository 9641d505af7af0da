"""A walk-forward cycle's summary: the chosen candidate's holdout figures and verdict, the
folds and candidates, and the statistics that count every try (typed records)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ktrdr.agents.design.assessment import DEFAULT_THRESHOLDS, Evidence
from ktrdr.agents.workers.cycle_summary import cycle_summary
from ktrdr.records import research as rec
from ktrdr.records.models import Operation
from ktrdr.records.results import (
    BacktestSummary,
    BenchmarkFigures,
    ResearchCycleSummary,
    TradingMetrics,
    TrainingSummary,
    backtest_summary_of,
    training_summary_of,
)
from ktrdr.research.evaluation import (
    BARS_PER_YEAR,
    CandidateScore,
    PeriodReturns,
    compounded,
    deflate,
    excess_interval,
    overfitting,
)
from ktrdr.research.walkforward import DatedFold, DatedPlan
from ktrdr.strategies.models import StrategyConfig


@dataclass(frozen=True)
class CycleEvidence:
    """Everything a walk-forward cycle learned, gathered for its summary."""

    plan: DatedPlan
    mode: str
    purge_bars: int
    description: str
    candidates: Sequence[tuple[int, int, str, str | None]]  # index, seed, name, why it failed
    scores: Sequence[CandidateScore]
    chosen: int
    final_training: Operation
    holdout: Sequence[tuple[float, Operation]]  # cost multiple, its holdout backtest
    holdout_returns: PeriodReturns  # at 1x costs
    earlier_trials: Sequence[float]  # per-bar Sharpes tried before on the same key
    trial_key: str
    seed: int


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _window(fold: DatedFold) -> rec.FoldWindowRecord:
    return rec.FoldWindowRecord(
        index=fold.index,
        train_start=fold.train.first.isoformat(),
        train_end=fold.train.last.isoformat(),
        test_start=fold.test.first.isoformat(),
        test_end=fold.test.last.isoformat(),
        train_bars=fold.train.bars,
        test_bars=fold.test.bars,
    )


def _candidates(ev: CycleEvidence) -> tuple[rec.CandidateRecord, ...]:
    by_index = {s.index: s for s in ev.scores}
    records = []
    for index, seed, name, failed in ev.candidates:
        score = by_index.get(index)
        records.append(
            rec.CandidateRecord(
                index=index,
                strategy_name=name,
                seed=seed,
                fold_sharpes=tuple(_finite(x) for x in score.fold_sharpes) if score else (),
                fold_returns=tuple(_finite(x) for x in score.fold_returns) if score else (),
                validation_sharpe=_finite(score.validation_sharpe) if score else None,
                validation_return=_finite(compounded(score.validation.strategy)) if score else None,
                validation_sharpe_per_bar=_finite(score.per_bar_sharpe) if score else None,
                chosen=index == ev.chosen,
                failed=failed,
            )
        )
    return tuple(records)


def _costs(ev: CycleEvidence) -> tuple[rec.CostCase, ...]:
    cases = []
    for multiplier, op in ev.holdout:
        summary = backtest_summary_of(op) or BacktestSummary()
        metrics = summary.metrics or TradingMetrics()
        bench = summary.benchmark or BenchmarkFigures()
        excess = None
        if metrics.total_return is not None and bench.total_return is not None:
            excess = _finite(metrics.total_return - bench.total_return)
        cases.append(
            rec.CostCase(
                multiplier=multiplier,
                total_return=_finite(metrics.total_return),
                sharpe_ratio=_finite(metrics.sharpe_ratio),
                excess_return=excess,
                operation_id=op.operation_id,
            )
        )
    return tuple(cases)


def _statistics(
    ev: CycleEvidence, training: TrainingSummary
) -> tuple[rec.ResearchStatistics, Evidence]:
    chosen = next(s for s in ev.scores if s.index == ev.chosen)
    dsr = deflate(chosen, ev.scores, ev.earlier_trials)
    pbo = overfitting(ev.scores)
    interval = excess_interval(ev.holdout_returns, seed=ev.seed)
    evidence = Evidence(
        deflated_sharpe=_finite(dsr.probability),
        trials=dsr.trials,
        excess_return=_finite(interval.estimate),
        excess_low=_finite(interval.low),
        excess_high=_finite(interval.high),
        confidence=interval.confidence,
        pbo=_finite(pbo.probability) if pbo is not None else None,
        overfit_ratio=_finite(training.overfit_ratio()),
        best_epoch=training.best_epoch,
        stopped_epoch=training.stopped_epoch,
    )
    statistics = rec.ResearchStatistics(
        significant=evidence.significant(DEFAULT_THRESHOLDS),
        deflated_sharpe=rec.DeflatedSharpeRecord(
            probability=evidence.deflated_sharpe,
            sharpe=_finite(dsr.sharpe),
            annualised_sharpe=_finite(dsr.sharpe * math.sqrt(BARS_PER_YEAR)),
            expected_max_sharpe=_finite(dsr.expected_max_sharpe),
            trials=dsr.trials,
            cycle_trials=len(ev.scores),
            sharpe_variance=_finite(dsr.sharpe_variance),
            observations=dsr.observations,
            skewness=_finite(dsr.skewness),
            kurtosis=_finite(dsr.kurtosis),
        ),
        overfitting=(
            rec.OverfittingRecord(
                probability=evidence.pbo,
                candidates=pbo.n_candidates,
                splits=pbo.n_splits,
                combinations=pbo.combinations,
            )
            if pbo is not None
            else None
        ),
        holdout_excess=rec.IntervalRecord(
            estimate=evidence.excess_return,
            low=evidence.excess_low,
            high=evidence.excess_high,
            confidence=interval.confidence,
            block_length=interval.block_length,
            resamples=interval.n_resamples,
        ),
        costs=_costs(ev),
        overfit_ratio=evidence.overfit_ratio,
        best_epoch=training.best_epoch,
        stopped_epoch=training.stopped_epoch,
    )
    return statistics, evidence


def walk_forward_summary(
    ev: CycleEvidence, design: StrategyConfig, designer: str
) -> ResearchCycleSummary:
    """The cycle's result: the chosen candidate's final training and 1x-cost holdout
    backtest as the seed's figures, judged with the evidence, plus the typed records."""
    training = training_summary_of(ev.final_training) or TrainingSummary()
    holdout_1x = next(op for m, op in ev.holdout if m == 1.0)
    backtest = backtest_summary_of(holdout_1x) or BacktestSummary()
    statistics, evidence = _statistics(ev, training)
    base = cycle_summary(design, designer, ev.seed, ev.final_training, backtest, evidence)
    record = rec.WalkForwardRecord(
        mode=ev.mode,
        folds=tuple(_window(f) for f in ev.plan.folds),
        purge_bars=ev.purge_bars,
        holdout=_window(ev.plan.final),
        description=ev.description,
        trial_key=ev.trial_key,
    )
    return base.model_copy(
        update={
            "walk_forward": record,
            "candidates": _candidates(ev),
            "statistics": statistics,
        }
    )
