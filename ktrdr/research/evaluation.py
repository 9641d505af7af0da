"""From a walk-forward cycle's backtests to the figures a researcher can sign.

Every candidate is backtested on the same K fold test windows, so its out-of-sample returns
over all folds are one series on the same bars as every other candidate's. The candidate is
chosen on those validation returns only (the highest Sharpe); the holdout, which no choice
has seen, is scored once, for the chosen one. What is computed here:

- each candidate's per-fold and overall validation Sharpe (annualised, like the backtests');
- the deflated Sharpe of the chosen candidate's validation returns, counting every trial:
  this cycle's candidates and those the store says were tried on the same series and
  range before (their per-bar Sharpes give the spread luck alone would produce);
- the probability of backtest overfitting over the candidates' validation returns (CSCV),
  when there are at least ``MIN_PBO_CANDIDATES`` of them;
- the holdout's excess return over buy-and-hold on the same bars, with a block-bootstrap
  interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ktrdr.research.statistics import (
    PBO,
    BootstrapInterval,
    DeflatedSharpe,
    block_bootstrap_interval,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio,
)

FloatArray = npt.NDArray[np.float64]

BARS_PER_YEAR = 252.0  # the backtests' annualisation (daily bars)
MIN_PBO_CANDIDATES = 4
PBO_SPLITS = 16
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class PeriodReturns:
    """Per-bar returns of a strategy and of buy-and-hold on the same bars."""

    strategy: FloatArray
    benchmark: FloatArray

    def __post_init__(self) -> None:
        if self.strategy.shape != self.benchmark.shape or self.strategy.ndim != 1:
            raise ValueError(
                "strategy and benchmark returns must be 1-D and of one length, got "
                f"{self.strategy.shape} and {self.benchmark.shape}"
            )

    @classmethod
    def of_equity(
        cls,
        equity: npt.ArrayLike,
        benchmark: npt.ArrayLike,
        initial_capital: float,
    ) -> PeriodReturns:
        """Returns from two equity curves that both started at ``initial_capital``."""
        return cls(_returns(equity, initial_capital), _returns(benchmark, initial_capital))

    @classmethod
    def joined(cls, parts: Sequence[PeriodReturns]) -> PeriodReturns:
        return cls(
            np.concatenate([p.strategy for p in parts]) if parts else np.zeros(0),
            np.concatenate([p.benchmark for p in parts]) if parts else np.zeros(0),
        )


def _returns(equity: npt.ArrayLike, initial_capital: float) -> FloatArray:
    curve = np.concatenate(([initial_capital], np.asarray(equity, dtype=np.float64).ravel()))
    if curve.size < 2 or not np.all(np.isfinite(curve)) or np.any(curve <= 0):
        return np.zeros(max(curve.size - 1, 0))
    return curve[1:] / curve[:-1] - 1.0


def annualised_sharpe(returns: FloatArray) -> float:
    return sharpe_ratio(returns) * math.sqrt(BARS_PER_YEAR) if returns.size else 0.0


def compounded(returns: FloatArray) -> float:
    return float(np.prod(1.0 + returns) - 1.0) if returns.size else 0.0


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's validation: its returns on each fold's test window."""

    index: int
    folds: tuple[PeriodReturns, ...]

    @property
    def validation(self) -> PeriodReturns:
        return PeriodReturns.joined(self.folds)

    @property
    def fold_sharpes(self) -> tuple[float, ...]:
        return tuple(annualised_sharpe(f.strategy) for f in self.folds)

    @property
    def fold_returns(self) -> tuple[float, ...]:
        return tuple(compounded(f.strategy) for f in self.folds)

    @property
    def per_bar_sharpe(self) -> float:
        return sharpe_ratio(self.validation.strategy)

    @property
    def validation_sharpe(self) -> float:
        return annualised_sharpe(self.validation.strategy)


def choose(scores: Sequence[CandidateScore]) -> CandidateScore:
    """The candidate with the highest validation Sharpe (the first on a tie). Only the
    validation folds are read: the holdout plays no part in the choice."""
    if not scores:
        raise ValueError("no candidate to choose from")
    return max(scores, key=lambda s: (s.per_bar_sharpe, -s.index))


def deflate(
    chosen: CandidateScore, cycle: Sequence[CandidateScore], earlier_trials: Sequence[float]
) -> DeflatedSharpe:
    """The chosen candidate's deflated Sharpe over every trial: this cycle's candidates and
    ``earlier_trials`` (per-bar Sharpes of candidates tried before on the same series and
    range). With a single trial in all it is the probabilistic Sharpe against zero."""
    sharpes = [*earlier_trials, *(s.per_bar_sharpe for s in cycle)]
    if len(sharpes) < 2:
        return deflated_sharpe_ratio(chosen.validation.strategy)
    return deflated_sharpe_ratio(chosen.validation.strategy, trials_sharpes=sharpes)


def overfitting(scores: Sequence[CandidateScore]) -> PBO | None:
    """PBO by CSCV over the candidates' validation returns (None with fewer than
    ``MIN_PBO_CANDIDATES`` candidates, or too few bars to split)."""
    if len(scores) < MIN_PBO_CANDIDATES:
        return None
    matrix = np.column_stack([s.validation.strategy for s in scores])
    splits = min(PBO_SPLITS, (matrix.shape[0] // 2) * 2)
    if splits < 2:
        return None
    return probability_of_backtest_overfitting(matrix, n_splits=splits)


def excess_interval(holdout: PeriodReturns, seed: int = 0) -> BootstrapInterval:
    """The holdout's compounded excess return over buy-and-hold, with a 95 % interval."""
    return block_bootstrap_interval(
        holdout.strategy, holdout.benchmark, n_resamples=BOOTSTRAP_RESAMPLES, seed=seed
    )
