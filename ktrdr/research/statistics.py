"""Statistics that tell a real edge from the luckiest of many backtests.

Every Sharpe ratio here is per period (per bar), never annualised: the formulas hold in the
returns' own sampling frequency. References:

- PSR: Bailey & López de Prado, "The Sharpe Ratio Efficient Frontier", J. of Risk 15(2), 2012.
- DSR: Bailey & López de Prado, "The Deflated Sharpe Ratio: Correcting for Selection Bias,
  Backtest Overfitting and Non-Normality", J. of Portfolio Management 40(5), 2014.
- PBO: Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting",
  J. of Computational Finance 20(4), 2017.
- Bootstrap: Politis & Romano, "A Circular Block-Resampling Procedure for Stationary Data"
  (1992) and "The Stationary Bootstrap", JASA 89(428), 1994.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

EULER_GAMMA = 0.5772156649015329
# C(16, 8) = 12,870 combinations; beyond that CSCV's cost grows ~4x per extra pair of splits.
MAX_SPLITS = 16
# Below this many returns skewness and kurtosis mean nothing, so the DSR reports a coin flip.
MIN_DSR_OBSERVATIONS = 3
# A standard deviation this small next to the data's magnitude is rounding, not risk.
_RELATIVE_STD_FLOOR = 1e-12
# Resamples drawn per batch, so memory stays ~ batch x T whatever n_resamples is.
_BOOTSTRAP_BATCH = 256
_NORMAL = NormalDist()


@dataclass(frozen=True)
class DeflatedSharpe:
    """The DSR of one selected strategy and the figures it was computed from."""

    probability: float  # P(true Sharpe > expected_max_sharpe), in [0, 1]
    sharpe: float  # per period
    expected_max_sharpe: float  # SR0: the best Sharpe luck alone gives over `trials`
    trials: int
    sharpe_variance: float  # variance of the trials' per-period Sharpes
    observations: int
    skewness: float
    kurtosis: float  # non-excess: 3 for normal returns


@dataclass(frozen=True)
class PBO:
    """Combinatorially symmetric cross-validation (CSCV) of N candidates."""

    probability: float  # fraction of splits where the in-sample best is at/below OOS median
    n_candidates: int
    n_splits: int
    combinations: int
    logits: tuple[float, ...]  # λ = ln(ω / (1 - ω)) per combination, ω = OOS relative rank
    # OLS slope of the in-sample best's OOS metric on its IS metric (the paper's performance
    # degradation); negative means the better it looked, the worse it did. None: IS constant.
    degradation_slope: float | None
    probability_of_oos_loss: float  # fraction of splits where the IS best scores < 0 OOS


@dataclass(frozen=True)
class BootstrapInterval:
    """Compounded strategy return minus compounded benchmark return, with its interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    block_length: int
    n_resamples: int
    method: str


def _finite_vector(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def sharpe_ratio(returns: npt.ArrayLike) -> float:
    """Per-period Sharpe ratio, mean / std (ddof=1), of a 1-D array of per-bar returns.

    0.0 for fewer than 2 returns or zero variance (a flat strategy has no risk-adjusted
    edge). NaN or infinite returns raise ``ValueError``.
    """
    r = _finite_vector(returns, "returns")
    if r.size < 2:
        return 0.0
    std = float(np.std(r, ddof=1))
    if std <= _RELATIVE_STD_FLOOR * float(np.max(np.abs(r))):
        return 0.0
    return float(np.mean(r)) / std


def _skewness_kurtosis(r: FloatArray) -> tuple[float, float]:
    """Sample skewness and non-excess kurtosis from the biased central moments (m3/m2^1.5,
    m4/m2^2), as in the papers; a flat series is reported as normal (0, 3)."""
    centred = r - np.mean(r)
    m2 = float(np.mean(centred**2))
    if math.sqrt(m2) <= _RELATIVE_STD_FLOOR * float(np.max(np.abs(r))):
        return 0.0, 3.0
    return float(np.mean(centred**3)) / m2**1.5, float(np.mean(centred**4)) / m2**2


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """PSR (Bailey & López de Prado 2012): the probability that the true Sharpe exceeds
    ``sr_benchmark`` given ``sr`` measured on ``n`` returns with that skewness and
    (non-excess) kurtosis::

        PSR = Φ( (sr - sr*) sqrt(n - 1) / sqrt(1 - skew sr + (kurtosis - 1) / 4 sr²) )

    ``n = 1`` carries no evidence: 0.5. For any real sample kurtosis >= 1 + skew²
    (Pearson), which keeps the denominator >= (1 - skew sr / 2)² >= 0; if it is still <= 0
    (the bound's edge, or impossible moments) the estimate has no sampling spread and the
    answer is certain: 1.0 above the benchmark, 0.0 below, 0.5 on it.
    """
    if not all(map(math.isfinite, (sr, sr_benchmark, skew, kurtosis))):
        raise ValueError(f"non-finite PSR input: {(sr, sr_benchmark, skew, kurtosis)}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if n == 1:
        return 0.5
    gap = sr - sr_benchmark
    spread = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if spread <= 0.0:
        return 1.0 if gap > 0 else 0.0 if gap < 0 else 0.5
    return _NORMAL.cdf(gap * math.sqrt(n - 1) / math.sqrt(spread))


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """SR0 (Bailey & López de Prado 2014, eq. for E[max SR]): the expected largest Sharpe
    among ``n_trials`` independent trials with no skill whose Sharpes vary with
    ``sharpe_variance``::

        SR0 = sqrt(V) ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e))),  γ = Euler-Mascheroni

    One trial involves no selection: 0.0.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    if not (math.isfinite(sharpe_variance) and sharpe_variance >= 0):
        raise ValueError(f"sharpe_variance must be finite and >= 0, got {sharpe_variance}")
    if n_trials == 1:
        return 0.0
    quantiles = (1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / n_trials)
    quantiles += EULER_GAMMA * _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sharpe_variance) * quantiles


def deflated_sharpe(
    sr: float, n: int, skew: float, kurtosis: float, n_trials: int, sharpe_variance: float
) -> float:
    """DSR (Bailey & López de Prado 2014) from summary figures: PSR against SR0."""
    return probabilistic_sharpe_ratio(
        sr, expected_max_sharpe(n_trials, sharpe_variance), n, skew, kurtosis
    )


def _trial_statistics(
    trials_sharpes: npt.ArrayLike | None, n_trials: int | None, sharpe_variance: float | None
) -> tuple[int, float]:
    if trials_sharpes is not None:
        sharpes = _finite_vector(trials_sharpes, "trials_sharpes")
        if sharpes.size == 0:
            raise ValueError("trials_sharpes is empty")
        n_trials = sharpes.size if n_trials is None else n_trials
        if sharpe_variance is None:
            sharpe_variance = float(np.var(sharpes, ddof=1)) if sharpes.size > 1 else 0.0
    trials = 1 if n_trials is None else n_trials
    if sharpe_variance is None:
        if trials > 1:
            raise ValueError("n_trials > 1 needs sharpe_variance or trials_sharpes")
        sharpe_variance = 0.0
    return trials, sharpe_variance


def deflated_sharpe_ratio(
    returns: npt.ArrayLike,
    *,
    trials_sharpes: npt.ArrayLike | None = None,
    n_trials: int | None = None,
    sharpe_variance: float | None = None,
) -> DeflatedSharpe:
    """The Deflated Sharpe Ratio (Bailey & López de Prado 2014) of the selected strategy's
    per-bar ``returns``: the probability its true Sharpe beats the best one luck would give
    over all the trials tried, corrected for skewness, fat tails and sample length.

    ``trials_sharpes`` are the per-period Sharpes of every trial (the selected one included);
    they give the number of trials and, with ddof=1, their variance. ``n_trials`` and
    ``sharpe_variance`` override either. With neither, there was one trial: SR0 = 0 and the
    DSR is the PSR against zero. Fewer than ``MIN_DSR_OBSERVATIONS`` returns carry no
    evidence either way, so the probability is 0.5.
    """
    r = _finite_vector(returns, "returns")
    trials, variance = _trial_statistics(trials_sharpes, n_trials, sharpe_variance)
    sr0 = expected_max_sharpe(trials, variance)
    sr = sharpe_ratio(r)
    if r.size < MIN_DSR_OBSERVATIONS:
        skew, kurtosis, probability = 0.0, 3.0, 0.5
    else:
        skew, kurtosis = _skewness_kurtosis(r)
        probability = probabilistic_sharpe_ratio(sr, sr0, r.size, skew, kurtosis)
    return DeflatedSharpe(probability, sr, sr0, trials, variance, int(r.size), skew, kurtosis)


def _performance_matrix(performance: npt.ArrayLike, n_splits: int) -> FloatArray:
    matrix = np.asarray(performance, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"performance must be 2-D (periods, candidates), got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("performance contains NaN or infinite values")
    if matrix.shape[1] < 2:
        raise ValueError(f"PBO needs at least 2 candidates, got {matrix.shape[1]}")
    if n_splits < 2 or n_splits % 2 or n_splits > MAX_SPLITS:
        raise ValueError(f"n_splits must be even, 2..{MAX_SPLITS}, got {n_splits}")
    if matrix.shape[0] < n_splits:
        raise ValueError(f"{matrix.shape[0]} periods cannot fill {n_splits} splits")
    return matrix


@dataclass(frozen=True)
class _GroupSums:
    """Per-group sums of the column-centred returns: CSCV scores any union of groups by
    adding S rows instead of re-reading T x N returns for each of the combinations.
    Centring on the column mean keeps the sum-of-squares variance free of cancellation."""

    counts: IndexArray  # (S,) rows per group
    sums: FloatArray  # (S, N)
    squares: FloatArray  # (S, N)
    shift: FloatArray  # (N,) the column means taken out
    scale: FloatArray  # (N,) max |return| per column: the yardstick for "zero variance"

    @classmethod
    def of(cls, matrix: FloatArray, n_splits: int) -> _GroupSums:
        periods = matrix.shape[0]
        base, extra = divmod(periods, n_splits)
        starts = np.array([g * base + min(g, extra) for g in range(n_splits)], dtype=np.intp)
        shift = np.mean(matrix, axis=0)
        centred = matrix - shift
        return cls(
            counts=np.diff(np.append(starts, periods)).astype(np.intp),
            sums=np.add.reduceat(centred, starts, axis=0),
            squares=np.add.reduceat(centred**2, starts, axis=0),
            shift=shift,
            scale=np.max(np.abs(matrix), axis=0),
        )

    def scores(self, halves: IndexArray, metric: str) -> FloatArray:
        """The metric of every candidate over each row's groups; shape (len(halves), N)."""
        n = self.counts[halves].sum(axis=1).astype(np.float64)[:, None]
        total = self.sums[halves].sum(axis=1)
        centred_mean: FloatArray = total / n
        if metric == "mean":
            return centred_mean + self.shift
        variance = np.maximum(self.squares[halves].sum(axis=1) - total * centred_mean, 0.0)
        std = np.sqrt(variance / np.maximum(n - 1.0, 1.0))
        # Same convention as sharpe_ratio: one row or no variance scores 0.
        flat = (std <= _RELATIVE_STD_FLOOR * self.scale) | (n < 2)
        return np.where(flat, 0.0, (centred_mean + self.shift) / np.where(flat, 1.0, std))


def _ols_slope(x: FloatArray, y: FloatArray) -> float | None:
    dx = x - np.mean(x)
    if float(np.ptp(x)) <= _RELATIVE_STD_FLOOR * float(np.max(np.abs(x))):
        return None
    return float(np.sum(dx * (y - np.mean(y))) / np.sum(dx * dx))


def probability_of_backtest_overfitting(
    performance: npt.ArrayLike, n_splits: int = 16, metric: Literal["sharpe", "mean"] = "sharpe"
) -> PBO:
    """PBO by combinatorially symmetric cross-validation (Bailey, Borwein, López de Prado &
    Zhu 2017) of ``performance``: per-period returns shaped (T periods, N candidates).

    The rows are cut into ``n_splits`` (S, even, <= ``MAX_SPLITS``) contiguous groups whose
    sizes differ by at most one. For each of the C(S, S/2) ways to take half the groups as
    in-sample (the rest out-of-sample), the in-sample best candidate by ``metric``
    (per-period Sharpe or mean; the first one on a tie) gets its out-of-sample rank r
    (1 = worst, ties averaged), ω = r / (N + 1) and λ = ln(ω / (1 - ω)). PBO is the fraction
    of λ <= 0: how often the chosen one lands at or below the out-of-sample median.
    Candidates without skill give about 0.5; a truly better one drives it towards 0.
    """
    if metric not in ("sharpe", "mean"):
        raise ValueError(f"metric must be 'sharpe' or 'mean', got {metric!r}")
    matrix = _performance_matrix(performance, n_splits)
    groups = _GroupSums.of(matrix, n_splits)
    in_sample = np.array(list(combinations(range(n_splits), n_splits // 2)), dtype=np.intp)
    count = len(in_sample)
    chosen = np.zeros((count, n_splits), dtype=bool)
    chosen[np.arange(count)[:, None], in_sample] = True
    out_sample = np.nonzero(~chosen)[1].reshape(count, n_splits // 2).astype(np.intp)
    is_scores = groups.scores(in_sample, metric)
    oos_scores = groups.scores(out_sample, metric)

    rows = np.arange(count)
    best = np.argmax(is_scores, axis=1)
    best_is, best_oos = is_scores[rows, best], oos_scores[rows, best]
    below = np.sum(oos_scores < best_oos[:, None], axis=1)
    level = np.sum(oos_scores == best_oos[:, None], axis=1)  # itself included
    candidates = matrix.shape[1]
    omega = (below + (level + 1) / 2.0) / (candidates + 1)
    logits = np.log(omega / (1.0 - omega))
    return PBO(
        probability=float(np.mean(logits <= 0.0)),
        n_candidates=candidates,
        n_splits=n_splits,
        combinations=count,
        logits=tuple(float(value) for value in logits),
        degradation_slope=_ols_slope(best_is, best_oos),
        probability_of_oos_loss=float(np.mean(best_oos < 0.0)),
    )


def _stationary_indices(
    rng: np.random.Generator, count: int, length: int, mean_block: int
) -> IndexArray:
    """Politis-Romano: each bar starts a new block with probability 1 / mean_block (the
    first always does) at a uniform position, else follows its predecessor, wrapping."""
    starts = rng.integers(0, length, size=(count, length))
    fresh = rng.random((count, length)) < 1.0 / mean_block
    fresh[:, 0] = True
    steps = np.arange(length)
    block_begin = np.maximum.accumulate(np.where(fresh, steps, 0), axis=1)
    origin = np.take_along_axis(starts, block_begin, axis=1)
    return ((origin + steps - block_begin) % length).astype(np.intp)


def _circular_indices(rng: np.random.Generator, count: int, length: int, block: int) -> IndexArray:
    """Circular block bootstrap: blocks of exactly ``block`` bars, wrapping past the end."""
    n_blocks = -(-length // block)
    starts = rng.integers(0, length, size=(count, n_blocks))
    offsets = np.tile(np.arange(block), n_blocks)
    indices = (np.repeat(starts, block, axis=1) + offsets) % length
    return indices[:, :length].astype(np.intp)


def block_bootstrap_interval(
    strategy_returns: npt.ArrayLike,
    benchmark_returns: npt.ArrayLike,
    *,
    block_length: int | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    method: Literal["stationary", "circular"] = "stationary",
) -> BootstrapInterval:
    """Percentile interval of the compounded excess return, prod(1 + s) - prod(1 + b), of
    per-bar strategy returns ``s`` over benchmark returns ``b`` on the same bars.

    Bars are resampled as (s, b) pairs in blocks, so a resample keeps both the serial
    dependence within blocks and the link between the strategy and its market on each bar.
    ``method`` picks the stationary bootstrap (geometric block lengths with mean
    ``block_length``; Politis & Romano 1994) or the circular one (fixed length; 1992).
    ``block_length`` defaults to round(T^(1/3)). Deterministic for a given ``seed``.
    """
    strategy = _finite_vector(strategy_returns, "strategy_returns")
    benchmark = _finite_vector(benchmark_returns, "benchmark_returns")
    if strategy.shape != benchmark.shape:
        raise ValueError(f"{strategy.size} strategy returns but {benchmark.size} benchmark ones")
    bars = strategy.size
    if bars < 2:
        raise ValueError(f"the bootstrap needs at least 2 bars, got {bars}")
    block = max(1, round(bars ** (1.0 / 3.0))) if block_length is None else block_length
    if not 1 <= block <= bars:
        raise ValueError(f"block_length must be in 1..{bars}, got {block}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if method not in ("stationary", "circular"):
        raise ValueError(f"method must be 'stationary' or 'circular', got {method!r}")

    draw = _stationary_indices if method == "stationary" else _circular_indices
    rng = np.random.default_rng(seed)
    growth_s, growth_b = 1.0 + strategy, 1.0 + benchmark
    excess = np.empty(n_resamples)
    for first in range(0, n_resamples, _BOOTSTRAP_BATCH):
        count = min(_BOOTSTRAP_BATCH, n_resamples - first)
        index = draw(rng, count, bars, block)
        batch = np.prod(growth_s[index], axis=1) - np.prod(growth_b[index], axis=1)
        excess[first : first + count] = batch
    tail = (1.0 - confidence) / 2.0
    low, high = (float(q) for q in np.quantile(excess, [tail, 1.0 - tail]))
    estimate = float(np.prod(growth_s) - np.prod(growth_b))
    return BootstrapInterval(estimate, low, high, confidence, block, n_resamples, method)
