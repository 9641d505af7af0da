"""The walk-forward evaluation: returns from equity curves, the choice on the folds only,
and the statistics built from them (the formulas themselves are tested against the papers
in test_research_statistics)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ktrdr.research.evaluation import (
    MIN_PBO_CANDIDATES,
    CandidateScore,
    PeriodReturns,
    annualised_sharpe,
    choose,
    compounded,
    deflate,
    excess_interval,
    overfitting,
)
from ktrdr.research.statistics import sharpe_ratio


def _score(index: int, *folds: list[float]) -> CandidateScore:
    parts = tuple(PeriodReturns(np.asarray(f, dtype=np.float64), np.zeros(len(f))) for f in folds)
    return CandidateScore(index, parts)


def test_returns_from_equity_start_at_the_initial_capital() -> None:
    returns = PeriodReturns.of_equity([110.0, 99.0], [100.0, 120.0], 100.0)
    assert returns.strategy == pytest.approx([0.10, -0.10])
    assert returns.benchmark == pytest.approx([0.0, 0.20])
    assert compounded(returns.strategy) == pytest.approx(1.1 * 0.9 - 1)


def test_a_broken_curve_gives_flat_returns_not_nan() -> None:
    returns = PeriodReturns.of_equity([float("nan"), 1.0], [1.0, 1.0], 1.0)
    assert np.all(returns.strategy == 0.0)


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="one length"):
        PeriodReturns(np.zeros(3), np.zeros(4))


def test_a_candidate_is_scored_on_all_its_folds_joined() -> None:
    score = _score(0, [0.01, -0.02, 0.03], [0.02, 0.0])
    joined = np.asarray([0.01, -0.02, 0.03, 0.02, 0.0])
    assert score.per_bar_sharpe == pytest.approx(sharpe_ratio(joined))
    assert score.validation_sharpe == pytest.approx(annualised_sharpe(joined))
    assert score.validation_sharpe == pytest.approx(sharpe_ratio(joined) * math.sqrt(252))
    assert len(score.fold_sharpes) == 2 and len(score.fold_returns) == 2


def test_the_choice_is_the_best_validation_sharpe_first_on_a_tie() -> None:
    steady = _score(0, [0.01, 0.012, 0.011, 0.009])
    noisy = _score(1, [0.05, -0.04, 0.06, -0.05])
    same = _score(2, [0.01, 0.012, 0.011, 0.009])
    assert choose([noisy, steady, same]).index == 0
    with pytest.raises(ValueError):
        choose([])


def test_deflating_counts_earlier_trials_and_lowers_the_probability() -> None:
    rng = np.random.default_rng(3)
    scores = [_score(i, list(rng.normal(0.0005, 0.01, 500))) for i in range(4)]
    best = choose(scores)
    alone = deflate(best, scores, [])
    crowded = deflate(best, scores, list(rng.normal(0, 0.03, 60)))
    assert alone.trials == 4 and crowded.trials == 64
    assert crowded.expected_max_sharpe > alone.expected_max_sharpe
    assert crowded.probability < alone.probability
    single = deflate(scores[0], scores[:1], [])
    assert single.trials == 1 and single.expected_max_sharpe == 0.0


def test_overfitting_needs_four_candidates() -> None:
    rng = np.random.default_rng(5)
    few = [_score(i, list(rng.normal(0, 0.01, 200))) for i in range(MIN_PBO_CANDIDATES - 1)]
    assert overfitting(few) is None
    many = [*few, _score(9, list(rng.normal(0, 0.01, 200)))]
    pbo = overfitting(many)
    assert pbo is not None and pbo.n_candidates == 4 and 0.0 <= pbo.probability <= 1.0


def test_the_holdout_interval_sees_a_planted_excess() -> None:
    rng = np.random.default_rng(8)
    market = rng.normal(0, 0.01, 400)
    strategy = market + 0.003
    interval = excess_interval(PeriodReturns(strategy, market))
    assert interval.low > 0 < interval.estimate and interval.low <= interval.estimate
    same = excess_interval(PeriodReturns(market, market))
    assert same.estimate == 0.0 and same.low <= 0.0 <= same.high
