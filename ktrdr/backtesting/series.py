"""A backtest's equity series made small enough to draw: its drawdown, and a downsampling
that keeps what a picture of it must not lose.

A long backtest has hundreds of thousands of bars; a chart has a few thousand pixels.
Taking every k-th bar would hide the very points a reader looks for (the highest equity,
the deepest drawdown), so ``downsample`` keeps, per bucket of consecutive bars, the bar
with the lowest equity, the one with the highest and the one deepest below its running
peak; plus the first and last bars, the deepest drawdown of the whole series and the peak
it fell from. So the drawdown recomputed from the kept points has the same maximum as the
full series', and the kept points are in time order. Pure numpy: no I/O, no framework.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ktrdr.data.bars import FloatArray

IndexArray = npt.NDArray[np.int64]

# Each bucket keeps up to three bars (lowest, highest, deepest below its peak).
_KEPT_PER_BUCKET = 3


def drawdown(equity: FloatArray, initial_capital: float | None = None) -> FloatArray:
    """Per bar, the fraction by which equity is below its running peak (0 at a peak, else
    negative; -1 when ruined). With ``initial_capital`` the peak starts there, as the
    engine's ``max_drawdown`` does (its value is ``-min(drawdown(...))``)."""
    values = np.asarray(equity, dtype=np.float64)
    if values.size == 0:
        return np.empty(0, dtype=np.float64)
    peaks = np.maximum.accumulate(values)
    if initial_capital is not None:
        np.maximum(peaks, float(initial_capital), out=peaks)
    falls = np.zeros(values.size, dtype=np.float64)
    positive = peaks > 0
    np.divide(values, peaks, out=falls, where=positive)
    falls[positive] -= 1.0
    # A float ratio of a value to a peak that is at least that value is <= 1, so no point
    # is above zero; min() only guards a NaN-free curve's rounding at exactly the peak.
    return np.minimum(falls, 0.0)


@dataclass(frozen=True)
class Downsampled:
    """The bars kept (``indices``, increasing) and whether any were left out."""

    indices: IndexArray
    downsampled: bool


def downsample(
    equity: FloatArray, max_points: int, initial_capital: float | None = None
) -> Downsampled:
    """At most ``max_points`` bar indices of ``equity`` (all of them when it is that short).

    With ``max_points >= 4`` the deepest drawdown and the peak it fell from are always kept
    (so the kept curve's maximum drawdown equals the full one's); with 2 or 3 only the
    first and last bars (and the trough, with 3) are sure to be.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    values = np.asarray(equity, dtype=np.float64)
    size = int(values.size)
    if size <= max_points:
        return Downsampled(np.arange(size, dtype=np.int64), downsampled=False)

    falls = drawdown(values, initial_capital)
    trough = int(np.argmin(falls))
    # In order of need: the ends, then the deepest fall, then the peak it fell from.
    must = [0, size - 1, trough]
    peak = _peak_before(values, trough)
    if peak is not None:
        must.append(peak)
    pinned = list(dict.fromkeys(must))[:max_points]

    buckets = (max_points - len(pinned)) // _KEPT_PER_BUCKET
    kept: list[int] = list(pinned)
    if buckets > 0:
        edges = np.linspace(0, size, buckets + 1).round().astype(np.int64)
        for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
            if hi <= lo:
                continue
            kept.append(lo + int(np.argmin(values[lo:hi])))
            kept.append(lo + int(np.argmax(values[lo:hi])))
            kept.append(lo + int(np.argmin(falls[lo:hi])))
    indices = np.unique(np.asarray(kept, dtype=np.int64))
    return Downsampled(indices, downsampled=True)


def _peak_before(values: FloatArray, trough: int) -> int | None:
    """The bar whose equity the trough fell from (None when it is the capital before the
    first bar, or the trough is no fall at all)."""
    if trough == 0:
        return None
    return int(np.argmax(values[: trough + 1]))
