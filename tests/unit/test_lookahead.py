"""The look-ahead guard: every shipped indicator, parameter set and example strategy passes
it on the bundled SP500 data, and planted leaks (the next bar's close, a whole-series
normalisation, a leak in the last bars only) are caught and named."""

from __future__ import annotations

import json
import time
from typing import Any, get_args

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktrdr.data.bars import Bars, FloatArray
from ktrdr.errors import StrategyValidationError
from ktrdr.indicators import features, technical
from ktrdr.indicators.lookahead import (
    EDGE_POINTS,
    LookaheadReport,
    check_lookahead,
    check_series_function,
    cut_points,
)
from ktrdr.strategies.indicator_params import Params
from ktrdr.strategies.loader import list_examples, load_strategy
from ktrdr.strategies.models import IndicatorType
from tests.unit.test_features import sp500, strategy

__all__ = ["sp500"]  # the fixture, shared with the feature tests


def leaks(report: LookaheadReport) -> set[tuple[str, str]]:
    return {(finding.kind, finding.name) for finding in report.leaks}


# The defaults ({}), the shortest windows the rules allow, and long ones.
PARAMS: dict[str, list[dict[str, float]]] = {
    "rsi": [{}, {"period": 1}, {"period": 2}, {"period": 60}],
    "sma_cross": [{}, {"fast": 1, "slow": 2}, {"fast": 50, "slow": 200}],
    "ema_cross": [{}, {"fast": 1, "slow": 2}, {"fast": 5, "slow": 120}],
    "macd": [{}, {"fast": 1, "slow": 2, "signal": 1}, {"fast": 19, "slow": 39, "signal": 15}],
    "bollinger": [{}, {"period": 2, "k": 0.5}, {"period": 100, "k": 3.5}],
    "atr": [{}, {"period": 1}, {"period": 60}],
    "returns": [{}, {"period": 5}, {"period": 250}],
    "momentum": [{}, {"period": 1}, {"period": 120}],
}


def test_every_indicator_type_is_guarded() -> None:
    assert set(PARAMS) == set(get_args(IndicatorType))


@pytest.mark.parametrize(
    ("kind", "params"),
    [(kind, params) for kind, sets in PARAMS.items() for params in sets],
    ids=lambda value: str(value),
)
def test_every_indicator_passes_the_guard(kind: str, params: dict[str, float], sp500: Bars) -> None:
    report = check_lookahead(strategy([{"name": "ind", "type": kind, "params": params}]), sp500)
    assert report.clean, report.leaks
    assert [(f.kind, f.name, f.source) for f in report.findings] == [
        ("indicator", "ind", kind),
        ("feature", "ind", "ind"),
    ]
    assert all(f.checked == 25 for f in report.findings)
    assert report.cut_points[-EDGE_POINTS:] == tuple(range(len(sp500) - EDGE_POINTS, len(sp500)))


@pytest.mark.parametrize("name", list_examples())
def test_every_shipped_example_passes_the_guard(name: str, sp500: Bars) -> None:
    config = load_strategy(name)
    report = check_lookahead(config, sp500)
    assert report.clean, report.leaks
    assert [f.name for f in report.findings if f.kind == "indicator"] == [
        spec.name for spec in config.indicators
    ]
    assert [f.name for f in report.findings if f.kind == "feature"] == features.feature_names(
        config
    )


@pytest.mark.parametrize(
    "fn",
    [
        lambda b: technical.sma(b.close, 1),
        lambda b: technical.sma(b.close, 30),
        lambda b: technical.ema(b.close, 1),
        lambda b: technical.ema(b.close, 30),
        lambda b: technical.ema(technical.returns(b.close, 5), 10),
    ],
    ids=["sma1", "sma30", "ema1", "ema30", "ema_of_returns"],
)
def test_the_building_blocks_pass_the_guard(fn: Any, sp500: Bars) -> None:
    assert check_series_function(fn, sp500).clean


# --- planted leaks --------------------------------------------------------------------------


def test_the_next_bars_close_is_caught_at_every_cut(sp500: Bars) -> None:
    report = check_series_function(lambda b: np.roll(b.close, -1), sp500, name="tomorrow")
    (finding,) = report.findings
    assert (finding.name, finding.kind) == ("tomorrow", "series")
    # Cut at t, the roll wraps round to the first close; over the whole series it reads the
    # next one (but at the last cut: that cut is the whole series).
    assert finding.leaking_bars == report.cut_points[:-1]
    first = finding.first
    assert first is not None and first.bar == 0 == report.cut_points[0]
    assert (first.full, first.cut) == (sp500.close[1], sp500.close[0])
    assert first.timestamp == str(sp500.timestamps[0])


def test_a_whole_series_normalisation_is_caught(sp500: Bars) -> None:
    def zscore(b: Bars) -> FloatArray:
        scaled: FloatArray = (b.close - b.close.mean()) / b.close.std()
        return scaled

    # From bar 1: a single close has no spread to divide by.
    report = check_series_function(zscore, sp500, name="zscore", seed=3, start=1)
    (finding,) = report.leaks
    assert finding.leaking_bars == report.cut_points[:-1]
    first = finding.first
    assert first is not None
    head = sp500.close[: first.bar + 1]
    assert first.cut == pytest.approx((head[-1] - head.mean()) / head.std())
    assert first.full == pytest.approx(zscore(sp500)[first.bar])


def _next_bar_return(b: Bars, _params: Params) -> FloatArray:
    """``close.shift(-1) / close - 1``: the return of the bar after this one."""
    return np.append(b.close[1:] / b.close[:-1] - 1.0, np.nan)


def test_a_shift_minus_one_leak_is_named_by_indicator_and_feature(
    sp500: Bars, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(features._COMPUTATIONS, "returns", _next_bar_return)
    report = check_lookahead(load_strategy("rsi_mean_reversion"), sp500)
    assert leaks(report) == {("indicator", "ret_1d"), ("feature", "ret_1d")}
    # The other columns, fuzzy RSI sets among them, are still compared with their own.
    assert report.finding("rsi_low", "feature").checked == 25
    for kind in ("indicator", "feature"):
        finding = report.finding("ret_1d", kind)
        first = finding.first
        assert first is not None and first.bar == report.cut_points[0]
        assert first.full == pytest.approx(sp500.close[first.bar + 1] / sp500.close[first.bar] - 1)
        assert np.isnan(first.cut)  # cut at t, there is no bar t + 1
        # The whole series has no next bar at its end either, so the last cut agrees.
        assert finding.leaking_bars == report.cut_points[:-1]
    text = json.dumps(report.to_json(), allow_nan=False)
    assert json.loads(text)["clean"] is False


def test_a_leak_in_the_last_bars_only_is_caught(sp500: Bars) -> None:
    since = sp500.timestamps[-5]

    def revised_late(b: Bars) -> FloatArray:
        # Recent bars were "revised" with the next day's close when it is known.
        out = b.close.copy()
        late = np.flatnonzero(b.timestamps[:-1] >= since)
        out[late] = b.close[late + 1]
        return out

    n = len(sp500)
    report = check_series_function(revised_late, sp500, name="revised")
    (finding,) = report.leaks
    assert set(finding.leaking_bars) == {t for t in report.cut_points if n - 5 <= t <= n - 2}
    assert {n - 3, n - 2} <= set(finding.leaking_bars)


def test_a_leak_in_the_last_bars_of_a_strategy_is_caught(
    sp500: Bars, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = len(sp500)

    def momentum_peeking_late(b: Bars, params: Params) -> FloatArray:
        out = technical.momentum(b.close, int(params["period"]))
        if len(b) == n:  # only the whole series: a leak no early cut can see
            out[-3:-1] = b.close[-2:] / b.close[-3:-1] - 1.0
        return out

    monkeypatch.setitem(features._COMPUTATIONS, "momentum", momentum_peeking_late)
    report = check_lookahead(load_strategy("trend_momentum"), sp500)
    expected = {("indicator", "momentum")} | {
        ("feature", f"momentum_{name}") for name in ("falling", "flat", "rising")
    }
    # A fuzzy set the peeked value and the true one both fall outside of cannot tell them
    # apart; the raw indicator always can.
    found = leaks(report)
    assert ("indicator", "momentum") in found and found <= expected
    assert report.finding("momentum", "indicator").leaking_bars == (n - 3, n - 2)


# --- where to cut ---------------------------------------------------------------------------


def test_cut_points_take_the_edges_and_spread_over_the_rest() -> None:
    points = cut_points(30, 5_000, 25, seed=1)
    assert len(points) == 25
    assert points[:3] == (30, 31, 32) and points[-3:] == (4_997, 4_998, 4_999)
    middle = np.diff(points[3:-3])
    assert middle.min() > 0 and middle.max() < 2 * (5_000 - 36) / 19 + 1
    assert cut_points(30, 5_000, 25, seed=1) == points
    assert cut_points(30, 5_000, 25, seed=2) != points


@given(
    start=st.integers(-5, 300),
    n_bars=st.integers(0, 400),
    count=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_cut_points_are_sorted_distinct_bars_in_the_range(
    start: int, n_bars: int, count: int, seed: int
) -> None:
    points = cut_points(start, n_bars, count, seed)
    first = max(start, 0)
    assert list(points) == sorted(set(points))
    assert all(first <= t < n_bars for t in points)
    assert len(points) == min(count, max(n_bars - first, 0))
    if points and count >= 2:
        assert points[0] == first and points[-1] == n_bars - 1


def test_cut_points_refuse_no_points() -> None:
    with pytest.raises(ValueError, match="count"):
        cut_points(0, 10, 0)


# --- limits and misuse ----------------------------------------------------------------------


def test_a_series_shorter_than_the_warm_up_is_refused(sp500: Bars) -> None:
    config = strategy([{"name": "slow", "type": "rsi", "params": {"period": 50}}])
    with pytest.raises(StrategyValidationError, match="warming up"):
        check_lookahead(config, sp500.slice(0, 40))


def test_a_function_must_return_one_value_per_bar(sp500: Bars) -> None:
    with pytest.raises(ValueError, match="one value per bar"):
        check_series_function(lambda b: b.close[1:], sp500, name="short")


def test_an_unknown_column_is_a_key_error(sp500: Bars) -> None:
    report = check_lookahead(load_strategy("rsi_mean_reversion"), sp500, sample_points=3)
    with pytest.raises(KeyError, match="no indicator 'rsi_low'"):
        report.finding("rsi_low", "indicator")


def test_eight_indicators_on_5000_bars_take_under_two_seconds(sp500: Bars) -> None:
    config = strategy(
        [{"name": f"i{i}", "type": kind} for i, kind in enumerate(PARAMS)],
        [
            {
                "indicator": "i0",
                "sets": [{"name": "low", "shape": "trapezoid", "points": [0, 0, 25, 40]}],
            }
        ],
    )
    bars = sp500.slice(len(sp500) - 5_000, len(sp500))
    # CPU time of this process: other work on a shared machine does not count against it.
    started = time.process_time()
    report = check_lookahead(config, bars)
    assert time.process_time() - started < 2.0
    assert report.clean and len(report.findings) == 8 + 8
