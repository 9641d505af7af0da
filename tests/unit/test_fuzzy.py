"""Fuzzy membership functions: shapes, shoulders, NaN and the [0, 1] range."""

from __future__ import annotations

import numpy as np
import pytest

from ktrdr.indicators.fuzzy import membership, trapezoid, triangular

NAN = np.nan


def test_triangular_hand_computed() -> None:
    x = [-1, 0, 2.5, 5, 7.5, 10, 11]
    np.testing.assert_allclose(triangular(x, 0, 5, 10), [0, 0, 0.5, 1, 0.5, 0, 0])


def test_trapezoid_hand_computed() -> None:
    x = [0, 5, 10, 15, 20, 22.5, 25, 30]
    np.testing.assert_allclose(trapezoid(x, 0, 10, 20, 25), [0, 0.5, 1, 1, 1, 0.5, 0, 0])


def test_left_shoulder_is_full_from_the_left_edge() -> None:
    # The RSI "low" set: 1 from 0 to 20, fading to 0 at 35, 0 outside [0, 35].
    x = [-1, 0, 10, 20, 27.5, 35, 50]
    np.testing.assert_allclose(trapezoid(x, 0, 0, 20, 35), [0, 1, 1, 1, 0.5, 0, 0])


def test_right_shoulder_is_full_up_to_the_right_edge() -> None:
    x = [50, 67.5, 75, 100, 101]
    np.testing.assert_allclose(trapezoid(x, 60, 75, 100, 100), [0, 0.5, 1, 1, 0])


def test_degenerate_triangles() -> None:
    np.testing.assert_allclose(triangular([0, 5, 10], 0, 0, 10), [1, 0.5, 0])
    np.testing.assert_allclose(triangular([0, 5, 10], 0, 10, 10), [0, 0.5, 1])
    np.testing.assert_allclose(triangular([2, 3, 4], 3, 3, 3), [0, 1, 0])


def test_infinite_outer_points_make_open_shoulders() -> None:
    x = [-1e9, -0.5, -0.02, -0.01, 0, 1]
    np.testing.assert_allclose(trapezoid(x, -np.inf, -np.inf, -0.02, 0), [1, 1, 1, 0.5, 0, 0])
    np.testing.assert_allclose(trapezoid([-5, 0, 1, 2], -np.inf, 0, 1, np.inf), [1, 1, 1, 1])


def test_nan_in_nan_out() -> None:
    got = triangular([NAN, 5, NAN], 0, 5, 10)
    assert np.isnan(got[0]) and np.isnan(got[2]) and got[1] == 1
    assert np.isnan(trapezoid([NAN], 0, 0, 1, 2)[0])


def test_values_always_in_unit_interval() -> None:
    x = np.random.default_rng(3).normal(50, 30, 10_000)
    for got in (triangular(x, 30, 50, 70), trapezoid(x, 0, 0, 25, 40), trapezoid(x, 1, 2, 3, 4)):
        assert got.shape == x.shape
        assert np.all((got >= 0) & (got <= 1))


def test_points_must_be_non_decreasing() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        triangular([1], 5, 0, 10)
    with pytest.raises(ValueError, match="non-decreasing"):
        trapezoid([1], 0, 2, 1, 3)


def test_membership_dispatches_on_shape() -> None:
    np.testing.assert_allclose(membership([2.5], "triangular", [0, 5, 10]), [0.5])
    np.testing.assert_allclose(membership([2.5], "trapezoid", [0, 5, 10, 15]), [0.5])
    with pytest.raises(ValueError, match="unsupported"):
        membership([1], "triangular", [0, 1, 2, 3])
