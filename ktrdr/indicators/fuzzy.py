"""Fuzzy membership functions: how much a value belongs to a set such as "RSI is low".

Both shapes are vectorised, return values in [0, 1], pass NaN through (an indicator still
warming up has no membership yet) and give 0 outside the support [first, last point].
Equal neighbouring points make a vertical edge, so shoulder sets work: the trapezoid
(0, 0, 20, 35) is 1 from 0 to 20 and fades to 0 at 35. An infinite outer point makes an
open-ended shoulder, e.g. (-inf, -inf, -0.02, 0) for "any fall of 2% or more".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ktrdr.data.bars import FloatArray


def trapezoid(x: npt.ArrayLike, a: float, b: float, c: float, d: float) -> FloatArray:
    """0 below a, rising to 1 at b, 1 through c, falling to 0 at d, 0 beyond."""
    if not a <= b <= c <= d:
        raise ValueError(f"trapezoid points must be non-decreasing, got {(a, b, c, d)}")
    values = np.atleast_1d(np.asarray(x, dtype=np.float64))
    out = np.zeros_like(values)
    # NaN compares False everywhere below, so it only needs restoring at the end.
    out[(values >= b) & (values <= c)] = 1.0
    if b > a:
        rising = (values > a) & (values < b)
        # An infinite edge is a limit: (x - a) / (b - a) tends to 1 as a goes to -inf.
        out[rising] = 1.0 if np.isinf(a) else (values[rising] - a) / (b - a)
    if d > c:
        falling = (values > c) & (values < d)
        out[falling] = 1.0 if np.isinf(d) else (d - values[falling]) / (d - c)
    out[np.isnan(values)] = np.nan
    return out


def triangular(x: npt.ArrayLike, a: float, b: float, c: float) -> FloatArray:
    """0 below a, rising to 1 at the peak b, falling to 0 at c, 0 beyond."""
    if not a <= b <= c:
        raise ValueError(f"triangular points must be non-decreasing, got {(a, b, c)}")
    return trapezoid(x, a, b, b, c)


def membership(x: npt.ArrayLike, shape: str, points: list[float]) -> FloatArray:
    """Dispatch on a ``FuzzySetSpec`` shape name and its points."""
    if shape == "triangular" and len(points) == 3:
        return triangular(x, *points)
    if shape == "trapezoid" and len(points) == 4:
        return trapezoid(x, *points)
    raise ValueError(f"unsupported fuzzy set {shape!r} with {len(points)} points")
