"""What a walk-forward research cycle keeps of its evaluation, typed.

A cycle evaluates M candidate designs on K walk-forward folds (each fold a training and a
backtest, children of the cycle), chooses one candidate on the folds alone, then scores the
chosen one on a holdout that nothing was chosen on. These records hold the folds' windows,
each candidate's fold figures, and the statistics that count every try (the deflated
Sharpe, the probability of backtest overfitting, the holdout's excess return over
buy-and-hold with its bootstrap interval, and the holdout at other costs). They are parts of
``ResearchCycleSummary``; the listing's headline carries the few a table shows.
"""

from __future__ import annotations

from ktrdr.records.wire import WireRecord

# What a child of a walk-forward cycle is for (its ``metadata.parameters["role"]``).
ROLE_FOLD = "fold"  # a candidate's training or backtest on one fold
ROLE_FINAL = "final"  # a candidate's training on everything before the holdout
ROLE_HOLDOUT = "holdout"  # the chosen candidate's backtest of the holdout (at a cost multiple)


class FoldWindowRecord(WireRecord):
    """One fold's windows (first and last bar dates, ISO) and their sizes in bars."""

    index: int | None = None  # 0-based
    train_start: str | None = None
    train_end: str | None = None
    test_start: str | None = None
    test_end: str | None = None
    train_bars: int | None = None
    test_bars: int | None = None


class WalkForwardRecord(WireRecord):
    mode: str | None = None  # anchored | rolling
    folds: tuple[FoldWindowRecord, ...] = ()
    purge_bars: int | None = None
    holdout: FoldWindowRecord | None = None  # train: the final training's window
    description: str | None = None  # one line for people
    # Which trials deflate each other: the series and the validation range.
    trial_key: str | None = None


class CandidateRecord(WireRecord):
    """A candidate's validation figures: per-fold Sharpe (annualised) and the Sharpe of its
    out-of-sample returns over all folds, the figure it is chosen by."""

    index: int | None = None
    strategy_name: str | None = None
    seed: int | None = None
    fold_sharpes: tuple[float | None, ...] = ()
    fold_returns: tuple[float | None, ...] = ()
    validation_sharpe: float | None = None  # annualised, over every fold's test bars
    validation_return: float | None = None  # compounded over every fold's test bars
    validation_sharpe_per_bar: float | None = None  # what later cycles count as a trial
    chosen: bool = False
    failed: str | None = None  # why it could not be evaluated (a fold's training failed)


class DeflatedSharpeRecord(WireRecord):
    """Bailey & López de Prado (2014): the probability that the chosen candidate's true
    Sharpe is above zero, given how many were tried and how their Sharpes spread."""

    probability: float | None = None
    sharpe: float | None = None  # per bar, of the chosen candidate's validation returns
    annualised_sharpe: float | None = None
    expected_max_sharpe: float | None = None  # per bar: the best of N tries by luck alone
    trials: int | None = None  # N: every candidate tried on this series and range
    cycle_trials: int | None = None  # of which this cycle's own
    sharpe_variance: float | None = None  # per bar, across the trials
    observations: int | None = None
    skewness: float | None = None
    kurtosis: float | None = None  # not excess: 3 for normal returns


class OverfittingRecord(WireRecord):
    """Probability of backtest overfitting by combinatorially symmetric cross-validation
    (Bailey, Borwein, López de Prado & Zhu): how often the in-sample best is below the
    out-of-sample median."""

    probability: float | None = None
    candidates: int | None = None
    splits: int | None = None
    combinations: int | None = None


class IntervalRecord(WireRecord):
    """A block-bootstrap interval of the holdout's excess return over buy-and-hold."""

    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    confidence: float | None = None
    block_length: int | None = None
    resamples: int | None = None


class CostCase(WireRecord):
    """The chosen candidate on the holdout with its costs multiplied by ``multiplier``."""

    multiplier: float | None = None
    total_return: float | None = None
    sharpe_ratio: float | None = None
    excess_return: float | None = None  # over buy-and-hold at the same costs
    operation_id: str | None = None


class ResearchStatistics(WireRecord):
    # Both tests that count every try passed: deflated Sharpe >= 0.95 and the holdout's
    # excess-return interval above zero (None: not measured).
    significant: bool | None = None
    deflated_sharpe: DeflatedSharpeRecord | None = None
    overfitting: OverfittingRecord | None = None  # with 4 or more candidates
    holdout_excess: IntervalRecord | None = None
    costs: tuple[CostCase, ...] = ()
    # Training hygiene: the chosen final training's last validation loss over its best.
    overfit_ratio: float | None = None
    best_epoch: int | None = None
    stopped_epoch: int | None = None
