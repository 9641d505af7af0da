"""The evaluation is honest in both directions, over many seeds, at the level of the
statistics (the full cycle, with real trainings, is in tests/integration/
test_honest_research.py on fewer seeds).

Candidates are simple rules (follow or fade the sign of the last ``k`` bars' move, long or
short), evaluated on walk-forward validation bars and scored on a later holdout exactly as
a cycle scores them: chosen on validation only, deflated over every trial, holdout excess
over buy-and-hold with its bootstrap interval.

- On random walks the best of 16 is "not significant" in at least 95 % of seeds.
- On a series with trending regimes (a planted edge any momentum rule sees) the chosen
  candidate beats buy-and-hold on the holdout with a deflated Sharpe of at least 0.95 for
  most seeds.
"""

from __future__ import annotations

import numpy as np

from ktrdr.agents.design.assessment import DEFAULT_THRESHOLDS, Evidence
from ktrdr.research.evaluation import (
    CandidateScore,
    PeriodReturns,
    choose,
    deflate,
    excess_interval,
)
from tests.support.synthetic import log_returns_random_walk, log_returns_regimes

VALIDATION_BARS = 750
HOLDOUT_BARS = 250
LOOKBACKS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60)


def _rule_positions(returns: np.ndarray, lookback: int) -> np.ndarray:
    """+1/-1 per bar from the sign of the move over the ``lookback`` bars before it."""
    moves = np.convolve(returns, np.ones(lookback), mode="full")[: returns.size]
    positions: np.ndarray = np.sign(np.concatenate([[0.0], moves[:-1]]))
    return positions


def _candidates(log_returns: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """16 momentum rules' simple returns (and the market's) on every bar. (Mirror rules,
    each the exact negative of another, would inflate the spread of the trials' Sharpes
    and with it the bar luck must clear: the deflated Sharpe assumes trials that are tries,
    not reflections.)"""
    simple = np.expm1(log_returns)
    return [(_rule_positions(log_returns, k) * simple, simple) for k in LOOKBACKS]


def _evaluate(log_returns: np.ndarray, seed: int) -> Evidence:
    rules = _candidates(log_returns)
    split = VALIDATION_BARS
    scores = [
        CandidateScore(i, (PeriodReturns(s[:split], b[:split]),)) for i, (s, b) in enumerate(rules)
    ]
    chosen = choose(scores)
    dsr = deflate(chosen, scores, [])
    strategy, market = rules[chosen.index]
    interval = excess_interval(PeriodReturns(strategy[split:], market[split:]), seed=seed)
    return Evidence(
        deflated_sharpe=dsr.probability,
        trials=dsr.trials,
        excess_return=interval.estimate,
        excess_low=interval.low,
        excess_high=interval.high,
    )


def test_the_best_of_16_rules_on_random_walks_is_not_significant() -> None:
    seeds = range(60)
    significant = [
        seed
        for seed in seeds
        if _evaluate(
            log_returns_random_walk(VALIDATION_BARS + HOLDOUT_BARS, seed), seed
        ).significant(DEFAULT_THRESHOLDS)
    ]
    assert len(significant) <= 0.05 * len(seeds), significant


def test_a_planted_trend_is_found_and_passes() -> None:
    seeds = range(12)
    found = []
    for seed in seeds:
        evidence = _evaluate(log_returns_regimes(VALIDATION_BARS + HOLDOUT_BARS, seed), seed)
        assert evidence.deflated_sharpe is not None and evidence.excess_return is not None
        if evidence.deflated_sharpe >= 0.95 and evidence.excess_return > 0:
            found.append(seed)
    assert len(found) >= 0.75 * len(seeds), found
