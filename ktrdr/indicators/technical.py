"""Technical indicators as pure functions over numpy arrays.

Every function returns a float64 array as long as its input, NaN during the warm-up, and
never looks ahead: the value at bar ``t`` depends only on bars ``0..t``. That property is
what lets a backtest trust a feature computed over the whole series at once, and the tests
check it by recomputing on every prefix.

Oscillators are scaled to be comparable across price levels: RSI is 0-100, crosses and
MACD are fractions of price, Bollinger is a position in the band (0 lower, 1 upper).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ktrdr.data.bars import FloatArray


def _check_period(name: str, value: int) -> None:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _as_float(values: FloatArray) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _nan_like(values: FloatArray) -> FloatArray:
    return np.full(values.shape[0], np.nan, dtype=np.float64)


def _first_finite(values: FloatArray) -> int:
    """Index of the first finite value (len if none): where a derived series' warm-up ends."""
    finite = np.isfinite(values)
    return int(np.argmax(finite)) if finite.any() else int(values.shape[0])


def sma(values: FloatArray, period: int) -> FloatArray:
    """Simple moving average over the last ``period`` values."""
    _check_period("period", period)
    values = _as_float(values)
    out = _nan_like(values)
    if values.shape[0] >= period:
        # Each window is summed on its own (no running cumsum), so one bar's rounding or a
        # NaN never leaks into later values and a prefix gives bit-identical results.
        out[period - 1 :] = sliding_window_view(values, period).mean(axis=1)
    return out


def ema(values: FloatArray, period: int) -> FloatArray:
    """Exponential moving average, alpha 2/(period+1), seeded with the SMA of its first window.

    Leading NaNs (the warm-up of an input that is itself derived) are skipped, so the EMA
    of a MACD line starts once that line exists.
    """
    _check_period("period", period)
    values = _as_float(values)
    out = _nan_like(values)
    start = _first_finite(values)
    seed_at = start + period - 1
    if seed_at >= values.shape[0]:
        return out
    alpha = 2.0 / (period + 1.0)
    level = float(values[start : seed_at + 1].mean())
    out[seed_at] = level
    for t in range(seed_at + 1, values.shape[0]):
        level += alpha * (float(values[t]) - level)
        out[t] = level
    return out


def _wilder(values: FloatArray, period: int, first: int) -> FloatArray:
    """Wilder's smoothing of ``values[first:]``: mean of the first window, then (p-1)/p decay."""
    out = _nan_like(values)
    seed_at = first + period - 1
    if seed_at >= values.shape[0]:
        return out
    level = float(values[first : seed_at + 1].mean())
    out[seed_at] = level
    for t in range(seed_at + 1, values.shape[0]):
        level = (level * (period - 1) + float(values[t])) / period
        out[t] = level
    return out


def rsi(close: FloatArray, period: int = 14) -> FloatArray:
    """Relative strength index (0-100) with Wilder smoothing; first value at bar ``period``."""
    _check_period("period", period)
    close = _as_float(close)
    change = np.concatenate([[np.nan], np.diff(close)])
    gains = np.where(change > 0, change, 0.0)
    losses = np.where(change < 0, -change, 0.0)
    avg_gain = _wilder(gains, period, first=1)
    avg_loss = _wilder(losses, period, first=1)
    out = _nan_like(close)
    ready = np.isfinite(avg_gain)
    up, down = avg_gain[ready], avg_loss[ready]
    total = up + down
    # RSI = 100 * up / (up + down), the same as 100 - 100/(1 + up/down) but defined when
    # down is 0 (a straight rise: 100); a perfectly flat window has no direction: 50.
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ready] = np.where(total > 0, 100.0 * up / total, 50.0)
    return out


def _relative_gap(fast: FloatArray, slow: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (fast - slow) / slow


def _check_fast_slow(fast: int, slow: int) -> None:
    _check_period("fast", fast)
    _check_period("slow", slow)
    if fast >= slow:
        raise ValueError(f"fast ({fast}) must be shorter than slow ({slow})")


def sma_cross(close: FloatArray, fast: int = 10, slow: int = 30) -> FloatArray:
    """(SMA fast - SMA slow) / SMA slow: positive when the short-term average is above."""
    _check_fast_slow(fast, slow)
    return _relative_gap(sma(close, fast), sma(close, slow))


def ema_cross(close: FloatArray, fast: int = 12, slow: int = 26) -> FloatArray:
    """(EMA fast - EMA slow) / EMA slow."""
    _check_fast_slow(fast, slow)
    return _relative_gap(ema(close, fast), ema(close, slow))


def macd(close: FloatArray, fast: int = 12, slow: int = 26, signal: int = 9) -> FloatArray:
    """MACD histogram (MACD line minus its signal EMA) divided by close."""
    _check_fast_slow(fast, slow)
    _check_period("signal", signal)
    close = _as_float(close)
    line = ema(close, fast) - ema(close, slow)
    histogram = line - ema(line, signal)
    with np.errstate(invalid="ignore", divide="ignore"):
        return histogram / close


def bollinger(close: FloatArray, period: int = 20, k: float = 2.0) -> FloatArray:
    """Where close sits in its Bollinger band: 0 on the lower band, 1 on the upper (may overshoot).

    Bands are mean ± k population standard deviations of the last ``period`` closes; a flat
    window (zero width) puts the close in the middle, 0.5.
    """
    _check_period("period", period)
    if not np.isfinite(k) or k <= 0:
        raise ValueError(f"k must be a positive number, got {k!r}")
    close = _as_float(close)
    out = _nan_like(close)
    if close.shape[0] < period:
        return out
    windows = sliding_window_view(close, period)
    mean = windows.mean(axis=1)
    spread = windows.std(axis=1)
    current = close[period - 1 :]
    with np.errstate(invalid="ignore", divide="ignore"):
        position = (current - (mean - k * spread)) / (2.0 * k * spread)
    # Rounding can give a tiny non-zero std for a flat window; treat relative 1e-12 as flat.
    flat = spread <= 1e-12 * np.abs(mean)
    out[period - 1 :] = np.where(flat, 0.5, position)
    return out


def atr(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> FloatArray:
    """Average true range (Wilder) divided by close; first value at bar ``period``."""
    _check_period("period", period)
    high, low, close = _as_float(high), _as_float(low), _as_float(close)
    previous = np.concatenate([[np.nan], close[:-1]])
    with np.errstate(invalid="ignore"):
        true_range = np.fmax(high - low, np.fmax(np.abs(high - previous), np.abs(low - previous)))
    # Bar 0 has no previous close, so its range is left out and smoothing starts at bar 1.
    true_range[:1] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        return _wilder(true_range, period, first=1) / close


def returns(close: FloatArray, period: int = 1) -> FloatArray:
    """close[t] / close[t - period] - 1."""
    _check_period("period", period)
    close = _as_float(close)
    out = _nan_like(close)
    if close.shape[0] > period:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[period:] = close[period:] / close[:-period] - 1.0
    return out


def momentum(close: FloatArray, period: int = 10) -> FloatArray:
    """Return over ``period`` bars; the same formula as ``returns``, with a longer default."""
    return returns(close, period)
