"""Downsampling a backtest's equity for a picture, on any curve: the kept points are in
time order, at most max_points, include both ends, are all of them for a short curve, and
keep the deepest drawdown (recomputed from the kept points alone) when there is room."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ktrdr.backtesting.series import downsample, drawdown

EQUITY = st.lists(
    st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=400,
)


@given(values=EQUITY, max_points=st.integers(min_value=2, max_value=500))
def test_kept_points_are_ordered_bounded_and_include_the_ends(
    values: list[float], max_points: int
) -> None:
    equity = np.array(values)
    kept = downsample(equity, max_points, 1000.0)
    indices = kept.indices
    assert indices.size <= max_points
    assert np.all(np.diff(indices) > 0)
    assert indices[0] == 0 and indices[-1] == equity.size - 1
    assert kept.downsampled == (equity.size > max_points)
    if not kept.downsampled:
        assert indices.tolist() == list(range(equity.size))


@given(values=EQUITY, max_points=st.integers(min_value=4, max_value=500))
def test_the_deepest_drawdown_survives(values: list[float], max_points: int) -> None:
    equity = np.array(values)
    indices = downsample(equity, max_points, 1000.0).indices
    full = drawdown(equity, 1000.0)
    assert np.all(full <= 0.0)
    assert full[indices].min() == full.min()
    assert drawdown(equity[indices], 1000.0).min() == full.min()
