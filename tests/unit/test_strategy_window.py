"""Fitting a designed strategy's train/test window to the series a cycle runs on."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from ktrdr.data.bars import Bars
from ktrdr.data.market import MarketData
from ktrdr.errors import InvalidRequestError
from ktrdr.strategies.loader import load_strategy
from ktrdr.strategies.window import (
    MIN_TEST_BARS,
    MIN_TRAIN_BARS,
    TRAIN_SHARE,
    fit_window,
    series_for_cycle,
)


@pytest.fixture
def market(tmp_path: Path) -> MarketData:
    return MarketData(tmp_path)


def hourly_from_bundled(market: MarketData, bars: int, per_day: int = 7) -> Bars:
    """Real SP500 prices re-stamped as ``per_day`` hourly bars a day from 2022-03-01."""
    real = market.load("SP500").slice(0, bars)
    stamps = [
        np.datetime64("2022-03-01T09:00") + np.timedelta64(day, "D") + np.timedelta64(hour, "h")
        for day in range(bars // per_day + 1)
        for hour in range(per_day)
    ][:bars]
    return Bars(
        symbol="SPH",
        timeframe="1h",
        timestamps=np.array(stamps, dtype="datetime64[s]"),
        open=real.open,
        high=real.high,
        low=real.low,
        close=real.close,
        volume=real.volume,
    )


def test_a_window_that_suits_the_series_is_kept(market: MarketData) -> None:
    strategy = load_strategy("rsi_mean_reversion")
    assert fit_window(strategy, market.load("SP500")) is strategy


def test_a_series_outside_the_window_is_split_chronologically_on_a_day_boundary(
    market: MarketData,
) -> None:
    strategy = load_strategy("rsi_mean_reversion")
    bars = hourly_from_bundled(market, 2_000)
    fitted = fit_window(strategy, bars)

    data = fitted.data
    assert data.train_start is None and data.test_end is None
    assert data.test_start == data.train_end + timedelta(days=1)
    days = bars.timestamps.astype("datetime64[D]")
    train = int(np.sum(days <= np.datetime64(data.train_end)))
    test = int(np.sum(days >= np.datetime64(data.test_start)))
    assert train + test == len(bars)  # every bar on exactly one side
    # The split bar's whole day trains, so the share is TRAIN_SHARE up to one day of bars.
    assert int(len(bars) * TRAIN_SHARE) <= train < int(len(bars) * TRAIN_SHARE) + 7
    assert train >= MIN_TRAIN_BARS and test >= MIN_TEST_BARS
    # Only the window moved: the rest of the design is untouched.
    assert fitted.model_dump(exclude={"data"}) == strategy.model_dump(exclude={"data"})
    assert (data.symbol, data.timeframe) == (strategy.data.symbol, strategy.data.timeframe)


def test_a_window_with_too_little_test_data_is_refitted(market: MarketData) -> None:
    strategy = load_strategy("rsi_mean_reversion")
    late = strategy.model_copy(
        update={"data": strategy.data.model_copy(update={"test_start": date(2018, 11, 1)})}
    )
    fitted = fit_window(late, market.load("SP500"))
    assert fitted.data.test_start < date(2014, 1, 1)  # 70 % of 1999-2018 ends around 2012


def test_series_for_cycle_refuses_missing_and_short_series(
    market: MarketData, tmp_path: Path
) -> None:
    assert len(series_for_cycle(market, "sp500", "1d")) == 5_031
    with pytest.raises(InvalidRequestError) as unknown:
        series_for_cycle(market, "NOPE", "1d")
    assert unknown.value.details["field"] == "symbol"
    with pytest.raises(InvalidRequestError) as wrong_tf:
        series_for_cycle(market, "SP500", "1h")
    assert wrong_tf.value.details["field"] == "timeframe"

    short = tmp_path / "short.csv"
    rows = ["date,open,high,low,close,volume"]
    start = date(2020, 1, 1)
    for n in range(MIN_TRAIN_BARS + MIN_TEST_BARS - 1):
        rows.append(f"{start + timedelta(days=n)},10,11,9,10.5,100")
    short.write_text("\n".join(rows) + "\n")
    market.import_csv(short, "SHORT", "1d")
    with pytest.raises(InvalidRequestError) as too_short:
        series_for_cycle(market, "SHORT", "1d")
    assert "has only 399 bars" in too_short.value.message
    assert too_short.value.details["needed"] == MIN_TRAIN_BARS + MIN_TEST_BARS
