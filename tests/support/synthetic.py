"""Synthetic daily series, written as CSV the way a user imports their own data.

- ``random_walk``: log-returns are independent normal draws with zero drift: nothing in
  the past says anything about the future, so no strategy has an edge.
- ``planted_edge``: log-returns follow an AR(1) process (each day's return leans on the
  previous day's by ``phi``): momentum any returns- or trend-based feature can see.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _business_days(n: int, start: date = date(2001, 1, 1)) -> list[str]:
    days = np.busday_offset(np.datetime64(start, "D"), np.arange(n), roll="forward")
    return [str(d) for d in days]


def log_returns_random_walk(n: int, seed: int, sigma: float = 0.01) -> FloatArray:
    return np.random.default_rng(seed).normal(0.0, sigma, n)


def log_returns_planted_edge(
    n: int, seed: int, phi: float = 0.3, sigma: float = 0.01
) -> FloatArray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, n)
    out = np.empty(n)
    out[0] = noise[0]
    for t in range(1, n):
        out[t] = phi * out[t - 1] + noise[t]
    return out


def series_csv(log_returns: FloatArray, seed: int, start_price: float = 100.0) -> str:
    """OHLCV rows from close-to-close log-returns (opens at the previous close, a small
    seeded range around the bar's move)."""
    rng = np.random.default_rng(seed + 7919)
    close = start_price * np.exp(np.cumsum(log_returns))
    opens = np.concatenate([[start_price], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.003, close.size))
    high = np.maximum(opens, close) * (1.0 + spread)
    low = np.minimum(opens, close) * (1.0 - spread)
    lines = ["date,open,high,low,close,volume"]
    for day, o, h, lo, c in zip(_business_days(close.size), opens, high, low, close, strict=True):
        lines.append(f"{day},{o:.6f},{h:.6f},{lo:.6f},{c:.6f},1000")
    return "\n".join(lines) + "\n"


def log_returns_regimes(
    n: int, seed: int, drift: float = 0.004, sigma: float = 0.01, mean_length: float = 30.0
) -> FloatArray:
    """Trending regimes: the daily drift is +``drift`` or -``drift`` for stretches of about
    ``mean_length`` bars (geometric lengths), under normal noise. Any trend or momentum
    feature sees which regime it is in a few bars after it starts; buying and holding earns
    about nothing over many regimes."""
    rng = np.random.default_rng(seed)
    signs = np.empty(n)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    for t in range(n):
        if rng.random() < 1.0 / mean_length:
            sign = -sign
        signs[t] = sign
    return signs * drift + rng.normal(0.0, sigma, n)
