"""A backtest's series as the API answers it, built from arrays a test makes up: the one
builder behind the picture tests' examples."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from ktrdr.contract.pictures import BacktestSeriesPublic, TradePublic
from ktrdr.records.results import BenchmarkFigures, TradingMetrics


def daily_series(
    equity: npt.NDArray[np.float64],
    buy_and_hold: npt.NDArray[np.float64],
    drawdown: npt.NDArray[np.float64],
    *,
    entries: Iterable[int],
    bars_held: int,
    is_long: Callable[[int], bool],
    benchmark_sharpe: float,
    name: str,
) -> BacktestSeriesPublic:
    """Daily bars from 2014-01-02, one per value of ``equity``; a trade entered at each
    index of ``entries`` (long where ``is_long``), closed ``bars_held`` bars later."""
    points = len(equity)
    stamps = (np.datetime64("2014-01-02") + np.arange(points)).astype("datetime64[s]")
    times = [str(t) for t in stamps]
    trades = [
        TradePublic.model_validate(
            {
                "direction": "long" if is_long(i) else "short",
                "entry_time": times[i],
                "exit_time": times[i + bars_held],
                "entry_price": 100.0,
                "exit_price": 101.0,
                "return": 0.01,
                "bars_held": bars_held,
            }
        )
        for i in entries
    ]
    return BacktestSeriesPublic(
        operation_id="op_backtesting_20240101_000000_abcdef12",
        status="completed",
        symbol="SP500",
        timeframe="1d",
        bars=points,
        points=points,
        downsampled=False,
        initial_capital=100_000.0,
        timestamps=times,
        equity=equity.tolist(),
        buy_and_hold=buy_and_hold.tolist(),
        drawdown=drawdown.tolist(),
        trades=trades,
        metrics=TradingMetrics(sharpe_ratio=0.5),
        benchmark=BenchmarkFigures(sharpe_ratio=benchmark_sharpe),
        strategy_name=name,
    )
