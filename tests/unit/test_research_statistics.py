"""Research statistics against the papers' worked numbers, Monte Carlo, hand-computed CSCV
cases and a plain loop implementation written here from the papers (no shared helpers)."""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ktrdr.research.statistics import (
    block_bootstrap_interval,
    deflated_sharpe,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio,
)

# --- the independent implementation: loops, math.fsum, math.erfc, bisection ---------------

GAMMA = 0.5772156649015329  # Euler-Mascheroni
Method = Literal["stationary", "circular"]


def ref_phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def ref_phi_inv(p: float) -> float:
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = (low + high) / 2.0
        low, high = (mid, high) if ref_phi(mid) < p else (low, mid)
    return (low + high) / 2.0


def ref_sharpe(xs: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mean = math.fsum(xs) / len(xs)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    return 0.0 if sd <= 1e-12 * max(abs(x) for x in xs) else mean / sd


def ref_moments(xs: list[float]) -> tuple[float, float]:
    mean = math.fsum(xs) / len(xs)
    m2, m3, m4 = (math.fsum((x - mean) ** k for x in xs) / len(xs) for k in (2, 3, 4))
    if math.sqrt(m2) <= 1e-12 * max(abs(x) for x in xs):
        return 0.0, 3.0
    return m3 / m2**1.5, m4 / m2**2


def ref_dsr(xs: list[float], trials: list[float]) -> tuple[float, float]:
    """(SR0, DSR) as the 2014 paper writes them."""
    n_trials = len(trials)
    sr0 = 0.0  # one trial: nothing was selected
    if n_trials > 1:
        z_max = (1 - GAMMA) * ref_phi_inv(1 - 1 / n_trials)
        z_max += GAMMA * ref_phi_inv(1 - 1 / (n_trials * math.e))
        sr0 = math.sqrt(statistics.variance(trials)) * z_max
    sr = ref_sharpe(xs)
    skew, kurt = ref_moments(xs)
    z = (sr - sr0) * math.sqrt(len(xs) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    return sr0, ref_phi(z)


def ref_pbo(rows: list[list[float]], splits: int) -> tuple[float, list[float], float | None, float]:
    """(PBO, logits, slope of the chosen one's OOS Sharpe on its IS one, P(OOS Sharpe < 0))."""
    periods, candidates = len(rows), len(rows[0])
    sizes = [periods // splits + (1 if g < periods % splits else 0) for g in range(splits)]
    groups = [range(sum(sizes[:g]), sum(sizes[: g + 1])) for g in range(splits)]
    logits, chosen_is, chosen_oos = [], [], []
    for chosen in itertools.combinations(range(splits), splits // 2):
        is_rows = [t for g in chosen for t in groups[g]]
        oos_rows = [t for g in range(splits) if g not in chosen for t in groups[g]]
        is_sr = [ref_sharpe([rows[t][j] for t in is_rows]) for j in range(candidates)]
        oos_sr = [ref_sharpe([rows[t][j] for t in oos_rows]) for j in range(candidates)]
        best = is_sr.index(max(is_sr))
        chosen_is.append(is_sr[best])
        chosen_oos.append(oos_sr[best])
        below = sum(1 for v in oos_sr if v < oos_sr[best])
        equal = sum(1 for v in oos_sr if v == oos_sr[best])
        omega = (below + (equal + 1) / 2) / (candidates + 1)
        logits.append(math.log(omega / (1 - omega)))
    try:
        slope: float | None = statistics.linear_regression(chosen_is, chosen_oos).slope
    except statistics.StatisticsError:  # every chosen IS Sharpe equal: no slope
        slope = None
    loss = sum(1 for v in chosen_oos if v < 0) / len(logits)
    return sum(1 for v in logits if v <= 0) / len(logits), logits, slope, loss


def test_dsr_paper_numerical_example() -> None:
    # Bailey & López de Prado (2014), "A numerical example": N = 100 trials whose annualised
    # Sharpes vary with V = 0.5, T = 1250 daily returns (5 years of 250 days), skew -3,
    # kurtosis 10, best annualised SR 2.5 (SR = 2.5 / sqrt(250) ~ 0.1581 per day). The paper:
    # SR0 ~ 0.1132 per day (1.7894 annualised: the same formula with V = 0.5), DSR ~ 0.9004.
    assert expected_max_sharpe(100, 0.5) == pytest.approx(1.7894, abs=1e-4)
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=1e-4)
    dsr = deflated_sharpe(2.5 / math.sqrt(250), 1250, -3.0, 10.0, 100, 0.5 / 250)
    assert dsr == pytest.approx(0.9004, abs=1e-4)
    # The same record with normal returns is far more convincing: the tails cost the DSR.
    normal = deflated_sharpe(2.5 / math.sqrt(250), 1250, 0.0, 3.0, 100, 0.5 / 250)
    assert normal > dsr + 0.03


@pytest.mark.parametrize("n_trials", [10, 100, 1000])
def test_expected_max_sharpe_matches_simulated_maxima(n_trials: int) -> None:
    # The paper's SR0 approximates E[max] of N independent N(0, V) Sharpes; check it against
    # simulated maxima (the approximation is within ~2.5 % for N >= 10).
    rng = np.random.default_rng(n_trials)
    variance = 0.04
    maxima = rng.normal(0.0, math.sqrt(variance), (4000, n_trials)).max(axis=1)
    assert expected_max_sharpe(n_trials, variance) == pytest.approx(maxima.mean(), rel=0.03)


def test_more_trials_deflate_the_same_record() -> None:
    returns = np.random.default_rng(4).normal(0.002, 0.01, 750)
    probabilities = [
        deflated_sharpe_ratio(returns, n_trials=n, sharpe_variance=0.003).probability
        for n in (1, 10, 100, 1000)
    ]
    assert probabilities == sorted(probabilities, reverse=True)
    assert probabilities[0] > 0.99 > probabilities[-1]
    # No trials given: one trial, SR0 = 0, the PSR against zero.
    alone = deflated_sharpe_ratio(returns)
    assert (alone.trials, alone.expected_max_sharpe) == (1, 0.0)
    assert alone.probability == probabilities[0]


def test_too_few_observations_is_a_coin_flip() -> None:
    # Decided: below 3 returns skewness and kurtosis are meaningless, so no evidence: 0.5.
    for returns in ([], [0.01], [0.01, 0.03]):
        result = deflated_sharpe_ratio(returns, n_trials=50, sharpe_variance=0.01)
        assert result.probability == 0.5
        assert (result.skewness, result.kurtosis) == (0.0, 3.0)
    assert probabilistic_sharpe_ratio(0.5, 0.0, 1) == 0.5


def test_psr_normal_case_and_edges() -> None:
    # With skew 0 and kurtosis 3 the denominator is Lo's (2002) 1 + SR^2 / 2.
    sr, n = 0.12, 400
    expected = ref_phi(sr * math.sqrt(n - 1) / math.sqrt(1 + sr * sr / 2))
    assert probabilistic_sharpe_ratio(sr, 0.0, n) == pytest.approx(expected, abs=1e-12)
    assert probabilistic_sharpe_ratio(sr, sr, n, -1.0, 8.0) == 0.5
    # kurtosis = 1 + skew^2 (a two-point law) with sr = 2 / skew: no spread, so certainty.
    assert probabilistic_sharpe_ratio(1.0, 0.5, 100, 2.0, 5.0) == 1.0
    assert probabilistic_sharpe_ratio(1.0, 1.5, 100, 2.0, 5.0) == 0.0


def test_psr_is_calibrated_for_skewed_returns() -> None:
    # A probability should mean what it says: with the true Sharpe as benchmark, PSR > 0.95
    # should happen ~5 % of the time. Negatively skewed returns (a mirrored exponential,
    # skew -2, kurtosis 9): with the paper's correction it does; ignoring skew and tails
    # (the normal formula) is overconfident about twice as often.
    rng = np.random.default_rng(11)
    true_sr, n = 0.2, 250
    samples = true_sr + 1.0 - rng.exponential(1.0, (2000, n))
    corrected, naive = [], []
    for row in samples:
        skew, kurt = ref_moments(list(row))
        sr = sharpe_ratio(row)
        corrected.append(probabilistic_sharpe_ratio(sr, true_sr, n, skew, kurt) > 0.95)
        naive.append(probabilistic_sharpe_ratio(sr, true_sr, n) > 0.95)
    assert 0.03 < np.mean(corrected) < 0.075
    assert np.mean(naive) > 0.085


@st.composite
def return_series(draw: st.DrawFn) -> list[float]:
    """Either granular returns (ties, flat runs, constants) or seeded fat-tailed ones."""
    if draw(st.booleans()):
        ticks = draw(st.lists(st.integers(-300, 300), min_size=3, max_size=120))
        return [t / 10_000 for t in ticks]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(3, 400))
    jumps = rng.standard_t(3, size) * draw(st.sampled_from([0.0, 0.01, 0.05]))
    return list(rng.normal(draw(st.floats(-0.01, 0.01)), 0.01, size) + jumps)


@settings(deadline=None)
@given(
    returns=return_series(),
    trials=st.lists(st.floats(-0.3, 0.3), min_size=1, max_size=60),
)
def test_dsr_matches_reference(returns: list[float], trials: list[float]) -> None:
    result = deflated_sharpe_ratio(returns, trials_sharpes=trials)
    sr0, probability = ref_dsr(returns, trials)
    assert result.sharpe == pytest.approx(ref_sharpe(returns), rel=1e-9, abs=1e-12)
    skew, kurt = ref_moments(returns)
    assert result.skewness == pytest.approx(skew, rel=1e-7, abs=1e-9)
    assert result.kurtosis == pytest.approx(kurt, rel=1e-7)
    assert result.expected_max_sharpe == pytest.approx(sr0, rel=1e-9, abs=1e-12)
    assert result.probability == pytest.approx(probability, abs=1e-8)
    assert 0.0 <= result.probability <= 1.0
    assert (result.trials, result.observations) == (len(trials), len(returns))


@st.composite
def candidate_panels(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    splits = draw(st.sampled_from([2, 4, 6]))
    periods = draw(st.integers(splits, 6 * splits + 5))
    candidates = draw(st.integers(2, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    skill = rng.normal(0.0, 0.005, candidates) * draw(st.sampled_from([0.0, 1.0, 4.0]))
    panel = rng.normal(skill, 0.01, (periods, candidates))
    if draw(st.booleans()):
        panel[:, -1] = panel[:, 0]  # an exact copy: ties in and out of sample
    if draw(st.booleans()):
        panel[:, draw(st.integers(0, candidates - 1))] = 0.0  # a candidate that never trades
    return panel, splits


@settings(deadline=None)
@given(case=candidate_panels())
def test_pbo_matches_reference(case: tuple[np.ndarray, int]) -> None:
    panel, splits = case
    result = probability_of_backtest_overfitting(panel, n_splits=splits)
    probability, logits, slope, loss = ref_pbo(panel.tolist(), splits)
    assert result.probability_of_oos_loss == loss
    assert result.probability == probability
    assert result.logits == pytest.approx(logits, abs=1e-12)
    assert result.degradation_slope == (None if slope is None else pytest.approx(slope, rel=1e-6))
    assert result.combinations == math.comb(splits, splits // 2) == len(logits)
    assert (result.n_candidates, result.n_splits) == (panel.shape[1], splits)


def test_pbo_s4_hand_computed_with_ties() -> None:
    # One row per group. a = (3, 1, 0, 1), b = 1 everywhere; metric = mean. The six IS
    # halves, IS means (a vs b) -> chosen -> OOS means -> rank of chosen -> logit:
    # {0,1} 2 vs 1 -> a; OOS .5 vs 1 -> 1 -> ln(1/2)   {0,2} 1.5 -> a; OOS 1 vs 1 -> 1.5 -> 0
    # {0,3} 2 -> a; OOS .5 -> ln(1/2)   {1,2} .5 -> b; OOS a=2 -> b rank 1 -> ln(1/2)
    # {1,3} 1 vs 1: tie, first (a); OOS 1.5 -> rank 2 -> ln 2   {2,3} .5 -> b; OOS 2 -> ln(1/2)
    panel = np.array([[3.0, 1.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    result = probability_of_backtest_overfitting(panel, n_splits=4, metric="mean")
    half = math.log(0.5)
    assert result.logits == pytest.approx([half, 0.0, half, half, math.log(2.0), half])
    assert result.probability == pytest.approx(5 / 6)


def test_pbo_s2_reversal_is_certain_overfitting() -> None:
    # Two halves; the ranking flips between them (Sharpe, two rows per group): whichever half
    # is in-sample, the chosen candidate is the worst out of sample: ω = 1/4 both times.
    first = [[3.5, 2.5, 1.5], [2.5, 1.5, 0.5]]
    second = [[1.5, 2.5, 3.5], [0.5, 1.5, 2.5]]
    result = probability_of_backtest_overfitting(np.array(first + second), n_splits=2)
    assert result.probability == 1.0
    assert result.logits == pytest.approx([math.log(1 / 3)] * 2)
    assert result.degradation_slope is None  # both winners look equally good in-sample


def test_pbo_is_zero_when_one_candidate_dominates_at_full_size() -> None:
    rng = np.random.default_rng(5)
    panel = rng.normal(0.0, 0.01, (2000, 16))
    panel[:, 3] = 0.01 + rng.normal(0.0, 0.001, 2000)  # Sharpe ~10 on every stretch
    started = time.perf_counter()
    result = probability_of_backtest_overfitting(panel, n_splits=16)
    # ~0.2 s alone; the bound leaves room for a loaded 2-core machine.
    assert time.perf_counter() - started < 1.5
    assert result.probability == 0.0 == result.probability_of_oos_loss
    assert result.logits == pytest.approx([math.log(16.0)] * 12_870)


def test_pbo_of_pure_noise_is_about_one_half() -> None:
    # Without skill the IS winner's OOS rank is uniform on 1..N: P(rank <= N/2) = 1/2.
    runs = [
        probability_of_backtest_overfitting(
            np.random.default_rng(seed).normal(0.0, 0.01, (400, 16)), n_splits=8
        ).probability
        for seed in range(40)
    ]
    assert 0.4 < float(np.mean(runs)) < 0.6


@settings(deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    bars=st.integers(30, 300),
    method=st.sampled_from(["stationary", "circular"]),
    block_fraction=st.floats(0.0, 0.33),
)
def test_bootstrap_interval_contains_estimate(
    seed: int, bars: int, method: Method, block_fraction: float
) -> None:
    rng = np.random.default_rng(seed)
    benchmark = rng.normal(0.0003, 0.015, bars)
    strategy = 0.5 * benchmark + rng.normal(0.0005, 0.01, bars)
    block = max(1, int(block_fraction * bars))
    result = block_bootstrap_interval(
        strategy, benchmark, block_length=block, n_resamples=300, seed=seed, method=method
    )
    expected = math.prod(1 + s for s in strategy) - math.prod(1 + b for b in benchmark)
    assert result.estimate == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert result.low <= result.estimate <= result.high


def _pair(seed: int, bars: int, edge: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    benchmark = rng.normal(0.0004, 0.012, bars)
    return benchmark + edge + rng.normal(0.0, 0.004, bars), benchmark


def test_bootstrap_is_deterministic_per_seed() -> None:
    strategy, benchmark = _pair(1, 400, 0.0)
    first = block_bootstrap_interval(strategy, benchmark, n_resamples=500, seed=9)
    assert block_bootstrap_interval(strategy, benchmark, n_resamples=500, seed=9) == first
    other = block_bootstrap_interval(strategy, benchmark, n_resamples=500, seed=10)
    assert (other.low, other.high) != (first.low, first.high)
    assert first.block_length == 7  # round(400 ** (1/3))


def test_planted_excess_is_significant_at_full_size() -> None:
    strategy, benchmark = _pair(2, 1300, 0.002)  # +0.2 % a bar on top of the market
    started = time.perf_counter()
    result = block_bootstrap_interval(strategy, benchmark, n_resamples=2000)
    # ~0.2 s alone; the bound leaves room for a loaded 2-core machine.
    assert time.perf_counter() - started < 1.0
    assert 0.0 < result.low < result.estimate < result.high


@pytest.mark.parametrize("method", ["stationary", "circular"])
def test_identical_series_have_no_excess(method: Method) -> None:
    # Pairs share their blocks, so each resample's two products are the same product.
    returns, _ = _pair(3, 300, 0.0)
    result = block_bootstrap_interval(returns, returns.copy(), n_resamples=300, method=method)
    assert (result.estimate, result.low, result.high) == (0.0, 0.0, 0.0)


def test_blocks_widen_the_interval_for_trending_excess() -> None:
    # Persistent excess (AR(1), phi 0.9): single-bar resampling breaks the runs apart and
    # understates the uncertainty; blocks keep them and give a wider interval.
    rng = np.random.default_rng(5)
    excess = np.zeros(1000)
    for t in range(1, 1000):
        excess[t] = 0.9 * excess[t - 1] + rng.normal(0.0, 0.002)
    benchmark = rng.normal(0.0003, 0.01, 1000)
    narrow = block_bootstrap_interval(benchmark + excess, benchmark, block_length=1)
    wide = block_bootstrap_interval(benchmark + excess, benchmark, block_length=50)
    assert (wide.high - wide.low) > 1.8 * (narrow.high - narrow.low)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_input_is_refused(bad: float) -> None:
    returns = [0.01, bad, 0.02, -0.01]
    calls: list[Callable[[], object]] = [
        lambda: sharpe_ratio(returns),
        lambda: deflated_sharpe_ratio(returns),
        lambda: deflated_sharpe_ratio([0.01, 0.02, 0.03], trials_sharpes=[0.1, bad]),
        lambda: probability_of_backtest_overfitting(np.array([returns, returns]).T, 2),
        lambda: block_bootstrap_interval(returns, [0.0] * 4),
        lambda: probabilistic_sharpe_ratio(0.1, bad, 100),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="NaN or infinite|non-finite"):
            call()


def test_wrong_shapes_and_arguments_are_refused() -> None:
    panel = np.zeros((20, 4))
    unknown: Any = "sortino"
    zeros = [0.0] * 5
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: sharpe_ratio(np.zeros((3, 2))), "1-D"),
        (lambda: probability_of_backtest_overfitting(np.zeros(20)), "2-D"),
        (lambda: probability_of_backtest_overfitting(np.zeros((20, 1)), 4), "at least 2"),
        (lambda: probability_of_backtest_overfitting(panel, 3), "even"),
        (lambda: probability_of_backtest_overfitting(panel, 18), "even"),
        (lambda: probability_of_backtest_overfitting(np.zeros((6, 3)), 8), "cannot fill"),
        (lambda: probability_of_backtest_overfitting(panel, 4, unknown), "metric"),
        (lambda: block_bootstrap_interval(zeros, [0.0] * 4), "5 strategy returns"),
        (lambda: block_bootstrap_interval(zeros, zeros, block_length=6), "block"),
        (lambda: block_bootstrap_interval(zeros, zeros, confidence=1.0), "confidence"),
        (lambda: block_bootstrap_interval(zeros, zeros, n_resamples=0), "n_resamples"),
        (lambda: deflated_sharpe_ratio(zeros, n_trials=3), "sharpe_variance"),
        (lambda: deflated_sharpe_ratio(zeros, trials_sharpes=[]), "empty"),
        (lambda: expected_max_sharpe(0, 1.0), "n_trials"),
        (lambda: expected_max_sharpe(5, -1.0), "sharpe_variance"),
        (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 0), "at least 1"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
