"""Fitting a strategy's train/test window to the series it will run on.

A strategy's default window (train through 2013, test from 2014) suits the bundled daily
data. A research cycle on a user's own series (say BTC 1h from 2022) would find no bars in
it, so the cycle keeps a window only when both halves hold enough bars, and otherwise
splits the series chronologically: the first ``TRAIN_SHARE`` of its bars train, the rest
are the out-of-sample backtest.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from ktrdr.data.bars import Bars
from ktrdr.data.market import MarketData
from ktrdr.errors import InvalidRequestError, NotFoundError
from ktrdr.strategies.models import StrategyConfig

MIN_TRAIN_BARS = 300
MIN_TEST_BARS = 100
TRAIN_SHARE = 0.7


def _day(timestamp: np.datetime64) -> date:
    return date.fromisoformat(str(timestamp.astype("datetime64[D]")))


def _count(bars: Bars, start: date | None, end: date | None) -> int:
    """Bars in [start, end], a date ``end`` covering its whole day."""
    days = bars.timestamps.astype("datetime64[D]")
    lo = 0 if start is None else int(np.searchsorted(days, np.datetime64(start, "D")))
    hi = len(bars) if end is None else int(np.searchsorted(days, np.datetime64(end, "D"), "right"))
    return max(0, hi - lo)


def series_for_cycle(market: MarketData, symbol: str, timeframe: str) -> Bars:
    """The whole series a cycle will use, refused up front if it is missing or too short."""
    try:
        bars = market.load(symbol, timeframe)
    except NotFoundError as exc:
        known = {info.symbol for info in market.list_series()}
        field = "timeframe" if symbol.upper() in known else "symbol"
        raise InvalidRequestError(exc.message, details={"field": field}) from None
    needed = MIN_TRAIN_BARS + MIN_TEST_BARS
    if len(bars) < needed:
        raise InvalidRequestError(
            f"{bars.symbol} {bars.timeframe} has only {len(bars):,} bars; a research cycle "
            f"needs at least {needed:,} ({MIN_TRAIN_BARS} to train, {MIN_TEST_BARS} to test)",
            details={"field": "symbol", "bars": len(bars), "needed": needed},
        )
    return bars


def fit_window(strategy: StrategyConfig, bars: Bars) -> StrategyConfig:
    """``strategy`` unchanged when its window suits ``bars``, else with a chronological split.

    The split falls on a day boundary (windows are dates), so an intraday series trains
    through the whole day of its split bar and is tested from the next day on.
    """
    data = strategy.data
    train = _count(bars, data.train_start, data.train_end)
    test = _count(bars, data.test_start, data.test_end)
    if train >= MIN_TRAIN_BARS and test >= MIN_TEST_BARS:
        return strategy
    days = bars.timestamps.astype("datetime64[D]")
    split = max(MIN_TRAIN_BARS, int(len(bars) * TRAIN_SHARE)) - 1
    train_end = _day(days[split])
    # Several bars share a day intraday: the test starts on the next day that has bars.
    test_start = train_end + timedelta(days=1)
    if _count(bars, test_start, None) < MIN_TEST_BARS:
        raise InvalidRequestError(
            f"{bars.symbol} {bars.timeframe} cannot be split into {MIN_TRAIN_BARS} training "
            f"and {MIN_TEST_BARS} test bars on day boundaries",
            details={"field": "symbol", "bars": len(bars)},
        )
    fitted = data.model_copy(
        update={
            "train_start": None,
            "train_end": train_end,
            "test_start": test_start,
            "test_end": None,
        }
    )
    return StrategyConfig.model_validate({**strategy.model_dump(), "data": fitted.model_dump()})
