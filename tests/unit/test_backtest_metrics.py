"""Backtest metrics on series small enough to compute by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ktrdr.backtesting.metrics import (
    annualised_return,
    compute_metrics,
    exposure,
    max_drawdown,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    total_return,
    win_rate,
)

# Per-bar returns +10%, -10%, +10%.
EQUITY = np.array([100.0, 110.0, 99.0, 108.9])
RETURNS = np.array([0.1, -0.1, 0.1])


def test_total_return_is_last_over_first() -> None:
    assert total_return(EQUITY) == pytest.approx(0.089)


def test_annualised_return_compounds_over_the_elapsed_bars() -> None:
    # Three bars elapse; with three bars a year the annual rate is the total return.
    assert annualised_return(EQUITY, bars_per_year=3) == pytest.approx(0.089)
    # With 1.5 bars a year the three bars span two years.
    assert annualised_return(EQUITY, bars_per_year=1.5) == pytest.approx(math.sqrt(1.089) - 1)


def test_sharpe_is_mean_over_sample_std_times_root_bars_per_year() -> None:
    # mean 0.1/3, std(ddof=1) sqrt(0.12)/3  ->  0.1/sqrt(0.12) * sqrt(252) = sqrt(21)
    assert sharpe_ratio(RETURNS, 252) == pytest.approx(math.sqrt(21))


def test_sortino_divides_by_the_downside_deviation() -> None:
    # downside deviation sqrt(0.01/3)  ->  (0.1/3) / sqrt(0.01/3) * sqrt(252) = sqrt(84)
    assert sortino_ratio(RETURNS, 252) == pytest.approx(math.sqrt(84))


def test_ratios_are_zero_without_variation_or_downside() -> None:
    flat = np.zeros(10)
    assert sharpe_ratio(flat, 252) == 0.0
    assert sortino_ratio(flat, 252) == 0.0
    assert sortino_ratio(np.array([0.01, 0.02, 0.0]), 252) == 0.0
    assert sharpe_ratio(np.array([0.01]), 252) == 0.0


def test_max_drawdown_is_the_largest_fall_from_a_peak() -> None:
    assert max_drawdown(EQUITY) == pytest.approx(0.1)
    assert max_drawdown(np.array([100.0, 120.0, 90.0, 130.0, 117.0])) == pytest.approx(0.25)
    assert max_drawdown(np.array([100.0, 101.0, 102.0])) == 0.0


def test_trade_statistics() -> None:
    trades = np.array([0.1, -0.05, 0.02, -0.01])
    assert win_rate(trades) == 0.5
    assert profit_factor(trades) == pytest.approx(0.12 / 0.06)


def test_trade_statistics_without_trades_or_losses_stay_json_safe() -> None:
    assert win_rate(np.zeros(0)) == 0.0
    assert profit_factor(np.zeros(0)) is None
    assert profit_factor(np.array([0.03, 0.01])) is None
    assert profit_factor(np.array([-0.03])) == 0.0


def test_exposure_counts_bars_in_the_market() -> None:
    assert exposure(np.array([1, 0, -1, 0])) == 0.5
    assert exposure(np.zeros(0, dtype=np.int64)) == 0.0


def test_compute_metrics_bundles_everything_as_finite_json() -> None:
    metrics = compute_metrics(
        EQUITY, np.array([0.05, -0.02]), np.array([1, 1, 0]), bars_per_year=252
    )
    assert metrics.num_trades == 2
    assert metrics.sharpe_ratio == pytest.approx(math.sqrt(21))
    assert metrics.exposure == pytest.approx(2 / 3)
    json.dumps(metrics.to_dict(), allow_nan=False)


def test_a_ruined_account_yields_finite_metrics() -> None:
    equity = np.array([100.0, 50.0, 0.0, 0.0, 0.0])
    metrics = compute_metrics(equity, np.array([-1.0]), np.array([1, 1, 0, 0]), bars_per_year=252)
    assert metrics.total_return == -1.0
    assert metrics.annualised_return == -1.0
    assert metrics.max_drawdown == 1.0
    values = [v for v in metrics.to_dict().values() if v is not None]
    assert all(math.isfinite(v) for v in values)
    json.dumps(metrics.to_dict(), allow_nan=False)
