"""Performance metrics: pure functions over an equity series, per-bar returns or trade returns.

Every function returns a finite float (or ``None`` where a ratio has no denominator), so
results can go straight into JSON: a NaN or an infinity never leaves this module.
``compute_metrics`` bundles them as the ``TradingMetrics`` record a backtest's result keeps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ktrdr.records.results import TradingMetrics

FloatArray = npt.NDArray[np.float64]


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


def total_return(equity: FloatArray) -> float:
    """Fractional change from the first to the last point (0.25 = +25%)."""
    if equity.size < 2 or equity[0] <= 0:
        return 0.0
    return _finite(float(equity[-1] / equity[0] - 1.0))


def annualised_return(equity: FloatArray, bars_per_year: float) -> float:
    """Compound annual growth rate; ``len(equity) - 1`` bars elapse between first and last."""
    periods = equity.size - 1
    if periods < 1 or equity[0] <= 0:
        return 0.0
    growth = float(equity[-1] / equity[0])
    if growth <= 0:
        return -1.0  # ruined: nothing left to compound
    # In log space so a long, strongly trending series cannot overflow the power.
    exponent = math.log(growth) * bars_per_year / periods
    return _finite(math.expm1(min(exponent, 700.0)))


def sharpe_ratio(returns: FloatArray, bars_per_year: float) -> float:
    """Annualised Sharpe with a zero risk-free rate: mean / std(ddof=1) * sqrt(bars_per_year)."""
    if returns.size < 2:
        return 0.0
    return _sharpe(returns, float(np.mean(returns)), bars_per_year)


def _sharpe(returns: FloatArray, mean: float, bars_per_year: float) -> float:
    std = float(np.std(returns, ddof=1))
    if not std > 0:
        return 0.0
    return _finite(mean / std * math.sqrt(bars_per_year))


def sortino_ratio(returns: FloatArray, bars_per_year: float) -> float:
    """Like Sharpe, but divides by the downside deviation (root mean square of losses only).

    Upside volatility is what a strategy is for, so only bars below the zero target count.
    """
    if returns.size < 2:
        return 0.0
    return _sortino(returns, float(np.mean(returns)), bars_per_year)


def _sortino(returns: FloatArray, mean: float, bars_per_year: float) -> float:
    downside = np.minimum(returns, 0.0)
    np.multiply(downside, downside, out=downside)
    downside_dev = math.sqrt(float(np.mean(downside)))
    if not downside_dev > 0:
        return 0.0
    return _finite(mean / downside_dev * math.sqrt(bars_per_year))


def max_drawdown(equity: FloatArray) -> float:
    """Largest peak-to-trough fall as a positive fraction of the peak (0.12 = -12%)."""
    if equity.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(equity)
    if peaks[0] > 0:
        # Every peak is positive, so the largest fall is 1 - the smallest equity/peak ratio
        # (1 - x is monotonic in floating point too: the same number as the masked form
        # below, in three passes instead of six). A NaN in the curve takes the masked path.
        np.divide(equity, peaks, out=peaks)
        smallest = float(np.min(peaks))
        if not math.isnan(smallest):
            return _finite(1.0 - smallest)
        peaks = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peaks > 0, 1.0 - equity / peaks, 0.0)
    return _finite(float(np.max(falls)))


def win_rate(trade_returns: FloatArray) -> float:
    """Share of closed trades that made money; 0.0 when there were no trades."""
    if trade_returns.size == 0:
        return 0.0
    return float(np.count_nonzero(trade_returns > 0) / trade_returns.size)


def profit_factor(trade_returns: FloatArray) -> float | None:
    """Gross profit / gross loss over trades; ``None`` when nothing was lost (no denominator)."""
    gross_loss = float(-np.sum(trade_returns[trade_returns < 0]))
    if not gross_loss > 0:
        return None
    gross_profit = float(np.sum(trade_returns[trade_returns > 0]))
    return _finite(gross_profit / gross_loss)


def exposure(held_positions: npt.NDArray[Any]) -> float:
    """Fraction of bars spent holding a non-zero position."""
    if held_positions.size == 0:
        return 0.0
    return float(np.count_nonzero(held_positions) / held_positions.size)


def compute_metrics(
    equity: FloatArray,
    trade_returns: FloatArray,
    held_positions: npt.NDArray[Any],
    *,
    bars_per_year: float,
) -> TradingMetrics:
    """All metrics at once. ``equity`` starts with the capital held before the first bar."""
    if equity.size > 1:
        returns = np.empty(equity.size - 1, dtype=np.float64)
        # A ruined account (equity 0) turns later returns into 0/0; those bars earned nothing.
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(equity[1:], equity[:-1], out=returns)
        returns -= 1.0
        if not np.isfinite(returns).all():
            np.nan_to_num(returns, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    else:
        returns = np.zeros(0)
    # One mean serves both ratios (each public function computes its own).
    mean = float(np.mean(returns)) if returns.size >= 2 else 0.0
    return TradingMetrics(
        total_return=total_return(equity),
        annualised_return=annualised_return(equity, bars_per_year),
        sharpe_ratio=_sharpe(returns, mean, bars_per_year) if returns.size >= 2 else 0.0,
        sortino_ratio=_sortino(returns, mean, bars_per_year) if returns.size >= 2 else 0.0,
        max_drawdown=max_drawdown(equity),
        win_rate=win_rate(trade_returns),
        num_trades=int(trade_returns.size),
        profit_factor=profit_factor(trade_returns),
        exposure=exposure(held_positions),
    )
