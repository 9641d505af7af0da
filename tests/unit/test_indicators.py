"""Technical indicators: hand-computed values, warm-up lengths and no look-ahead."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ktrdr.data.bars import Bars, FloatArray
from ktrdr.data.market import MarketData
from ktrdr.indicators import technical as ta

NAN = np.nan


def arr(*values: float) -> FloatArray:
    return np.array(values, dtype=np.float64)


def assert_same(actual: FloatArray, expected: FloatArray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.fixture(scope="module")
def sp500(tmp_path_factory: pytest.TempPathFactory) -> Bars:
    return MarketData(tmp_path_factory.mktemp("data")).load("SP500").slice(0, 600)


def test_sma_hand_computed() -> None:
    assert_same(ta.sma(arr(1, 2, 3, 4, 5), 3), arr(NAN, NAN, 2, 3, 4))
    assert_same(ta.sma(arr(1, 2), 3), arr(NAN, NAN))
    assert_same(ta.sma(arr(7, 8), 1), arr(7, 8))


def test_ema_is_seeded_with_the_sma_then_smooths_with_alpha_2_over_p_plus_1() -> None:
    # alpha = 0.5: seed mean(1, 2, 3) = 2, then 2 + 0.5 * (4 - 2) = 3, then 3 + 0.5 * 2 = 4
    assert_same(ta.ema(arr(1, 2, 3, 4, 6), 3), arr(NAN, NAN, 2, 3, 4.5))


def test_ema_starts_after_the_warm_up_of_a_derived_input() -> None:
    # period 2 -> alpha 2/3; seed mean(1, 2) = 1.5 at index 3, then 1.5 + 2/3 * 1.5 = 2.5
    assert_same(ta.ema(arr(NAN, NAN, 1, 2, 3), 2), arr(NAN, NAN, NAN, 1.5, 2.5))


def test_rsi_hand_computed_with_wilder_smoothing() -> None:
    # changes +1 -1 +2 +1 -1; period 3:
    # t=3: gain 1, loss 1/3 -> 75;  t=4: gain 1, loss 2/9 -> 900/11
    # t=5: gain 2/3, loss 13/27 -> 1800/31
    got = ta.rsi(arr(44, 45, 44, 46, 47, 46), period=3)
    assert_same(got, arr(NAN, NAN, NAN, 75.0, 900 / 11, 1800 / 31))


def test_rsi_extremes_and_flat_market() -> None:
    rising = np.arange(1.0, 30.0)
    assert np.all(ta.rsi(rising, 14)[14:] == 100.0)
    assert np.all(ta.rsi(rising[::-1].copy(), 14)[14:] == 0.0)
    assert np.all(ta.rsi(np.full(30, 5.0), 14)[14:] == 50.0)


def test_rsi_stays_in_0_100_on_real_data(sp500: Bars) -> None:
    values = ta.rsi(sp500.close)
    assert np.isnan(values[:14]).all()
    assert np.all((values[14:] >= 0) & (values[14:] <= 100))


def test_sma_cross_hand_computed() -> None:
    # fast 1 = the close itself; slow 2 = [nan, 1.5, 2.5, 3.5]
    got = ta.sma_cross(arr(1, 2, 3, 4), fast=1, slow=2)
    assert_same(got, arr(NAN, 0.5 / 1.5, 0.5 / 2.5, 0.5 / 3.5))


def test_ema_cross_is_the_relative_gap_of_two_emas(sp500: Bars) -> None:
    fast, slow = ta.ema(sp500.close, 5), ta.ema(sp500.close, 20)
    assert_same(ta.ema_cross(sp500.close, 5, 20), (fast - slow) / slow)


def test_macd_histogram_normalised_by_close(sp500: Bars) -> None:
    close = sp500.close
    line = ta.ema(close, 12) - ta.ema(close, 26)
    expected = (line - ta.ema(line, 9)) / close
    got = ta.macd(close)
    assert_same(got, expected)
    # warm-up: the slow EMA needs 26 bars, then the signal EMA 9 more of the MACD line
    assert np.isnan(got[:33]).all() and np.isfinite(got[33:]).all()


def test_bollinger_position_hand_computed() -> None:
    # window (1, 2, 3): mean 2, population std sqrt(2/3); with k=1 the close 3 sits at
    # (3 - (2 - s)) / (2 s) = 0.5 + 1 / (2 s)
    s = np.sqrt(2 / 3)
    got = ta.bollinger(arr(1, 2, 3, 2.5), period=3, k=1)  # (2, 3, 2.5): close = mean
    assert_same(got, arr(NAN, NAN, 0.5 + 1 / (2 * s), 0.5))


def test_bollinger_flat_window_is_mid_band_and_bands_are_0_and_1() -> None:
    assert_same(ta.bollinger(np.full(5, 3.0), period=3), arr(NAN, NAN, 0.5, 0.5, 0.5))
    # close on the lower band: window (2, 2, 2, 0) -> mean 1.5, std sqrt(0.75); k chosen so
    # that mean - k * std = 0, the close
    k = 1.5 / np.sqrt(0.75)
    assert_same(ta.bollinger(arr(2, 2, 2, 0), period=4, k=k), arr(NAN, NAN, NAN, 0.0))


def test_atr_hand_computed_uses_gaps_from_the_previous_close() -> None:
    high, low, close = arr(10, 11, 14, 12), arr(8, 9, 11, 10), arr(9, 10, 13, 11)
    # true ranges from bar 1: 2, max(3, |14-10|, |11-10|) = 4, max(2, |12-13|, |10-13|) = 3
    # period 2: seed (2 + 4) / 2 = 3 at bar 2, then (3 + 3) / 2 = 3; divided by close
    got = ta.atr(high, low, close, period=2)
    assert_same(got, arr(NAN, NAN, 3 / 13, 3 / 11))


def test_returns_and_momentum() -> None:
    assert_same(ta.returns(arr(100, 110, 99)), arr(NAN, 0.1, -0.1))
    assert_same(ta.momentum(arr(100, 110, 99), period=2), arr(NAN, NAN, -0.01))
    assert_same(ta.momentum(arr(1, 2), period=5), arr(NAN, NAN))


@pytest.mark.parametrize("period", [0, -3, 2.5])
def test_bad_periods_are_rejected(period: float) -> None:
    with pytest.raises(ValueError, match="period"):
        ta.sma(arr(1, 2, 3), period)  # type: ignore[arg-type]


def test_fast_must_be_shorter_than_slow() -> None:
    with pytest.raises(ValueError, match="fast"):
        ta.sma_cross(arr(1, 2, 3), fast=5, slow=5)
    with pytest.raises(ValueError, match="k must be"):
        ta.bollinger(arr(1, 2, 3), period=2, k=0)


def _all_indicators() -> dict[str, Callable[[Bars], FloatArray]]:
    return {
        "sma": lambda b: ta.sma(b.close, 10),
        "ema": lambda b: ta.ema(b.close, 10),
        "rsi": lambda b: ta.rsi(b.close, 14),
        "sma_cross": lambda b: ta.sma_cross(b.close, 5, 20),
        "ema_cross": lambda b: ta.ema_cross(b.close, 5, 20),
        "macd": lambda b: ta.macd(b.close),
        "bollinger": lambda b: ta.bollinger(b.close, 20, 2.0),
        "atr": lambda b: ta.atr(b.high, b.low, b.close, 14),
        "returns": lambda b: ta.returns(b.close, 1),
        "momentum": lambda b: ta.momentum(b.close, 10),
    }


@pytest.mark.parametrize("name", sorted(_all_indicators()))
def test_no_look_ahead_prefixes_give_the_same_values(name: str, sp500: Bars) -> None:
    indicator = _all_indicators()[name]
    full = indicator(sp500)
    assert full.shape == (len(sp500),)
    for t in (0, 5, 13, 14, 33, 34, 100, 333, len(sp500) - 1):
        prefix = indicator(sp500.slice(0, t + 1))
        np.testing.assert_array_equal(prefix, full[: t + 1])


@pytest.mark.parametrize("name", sorted(_all_indicators()))
def test_no_look_ahead_changing_the_future_changes_nothing_before_it(
    name: str, sp500: Bars
) -> None:
    indicator = _all_indicators()[name]
    full = indicator(sp500)
    t = 300
    shocked = Bars(
        symbol=sp500.symbol,
        timeframe=sp500.timeframe,
        timestamps=sp500.timestamps,
        open=np.concatenate([sp500.open[: t + 1], sp500.open[t + 1 :] * 2]),
        high=np.concatenate([sp500.high[: t + 1], sp500.high[t + 1 :] * 2]),
        low=np.concatenate([sp500.low[: t + 1], sp500.low[t + 1 :] * 2]),
        close=np.concatenate([sp500.close[: t + 1], sp500.close[t + 1 :] * 2]),
        volume=sp500.volume,
    )
    after = indicator(shocked)
    np.testing.assert_array_equal(after[: t + 1], full[: t + 1])
    assert not np.array_equal(after[t + 1 :], full[t + 1 :], equal_nan=True)
