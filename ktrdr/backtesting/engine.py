"""The backtest engine: replays a position series over bars and books equity, costs and trades.

Timing rule (no look-ahead): ``positions[t]`` is decided at the close of bar ``t`` and earns
the return of bar ``t + 1``. Changing position at a close costs
``(commission + slippage) * |change|`` of equity at that moment. The book is closed at the
last bar's close, so every trade has an exit and the final liquidation is paid for.

Equity is built chunk by chunk (vectorised inside a chunk, the running equity carried
across) so long series report progress and can be cancelled between chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ktrdr.backtesting.metrics import (
    BacktestMetrics,
    annualised_return,
    compute_metrics,
    max_drawdown,
    sharpe_ratio,
    total_return,
)
from ktrdr.data.bars import Bars, FloatArray, TimeArray
from ktrdr.errors import InvalidRequestError
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.strategies.models import BacktestSpec

IntArray = npt.NDArray[np.int64]


def _iso(timestamps: TimeArray) -> list[str]:
    return [str(s) for s in np.datetime_as_string(timestamps, unit="s")]


@dataclass(frozen=True, eq=False)
class TradeLog:
    """Closed trades as columns (a long run can hold hundreds of thousands of them).

    ``net_return`` is the price move in the trade's direction after one cost per side.
    """

    direction: IntArray  # +1 long, -1 short
    entry_time: TimeArray
    exit_time: TimeArray
    entry_price: FloatArray
    exit_price: FloatArray
    net_return: FloatArray
    bars_held: IntArray

    def __len__(self) -> int:
        return int(self.direction.size)

    def to_records(self) -> list[dict[str, Any]]:
        columns: dict[str, list[Any]] = {
            "direction": ["long" if d > 0 else "short" for d in self.direction.tolist()],
            "entry_time": _iso(self.entry_time),
            "exit_time": _iso(self.exit_time),
            "entry_price": self.entry_price.tolist(),
            "exit_price": self.exit_price.tolist(),
            "return": self.net_return.tolist(),
            "bars_held": self.bars_held.tolist(),
        }
        keys = list(columns)
        return [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]


@dataclass(frozen=True, eq=False)
class BacktestResult:
    symbol: str
    timeframe: str
    mode: str
    initial_capital: float
    metrics: BacktestMetrics
    timestamps: TimeArray  # one per bar
    equity: FloatArray  # equity at each bar's close, after that close's trading costs
    trades: TradeLog
    # Buying at the first close and selling at the last, same bars and costs: the bar any
    # strategy has to clear (total_return, annualised_return, sharpe_ratio, max_drawdown).
    benchmark: dict[str, float]

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1])

    def to_summary(self, *, max_equity_points: int | None = None) -> dict[str, Any]:
        """Plain JSON types only. ``max_equity_points`` thins a long curve (the last bar kept)."""
        picked = np.arange(self.equity.size)
        if max_equity_points is not None and 1 < max_equity_points < self.equity.size:
            picked = np.unique(
                np.linspace(0, self.equity.size - 1, max_equity_points).round().astype(np.int64)
            )
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "mode": self.mode,
            "start": _iso(self.timestamps[:1])[0],
            "end": _iso(self.timestamps[-1:])[0],
            "bars": int(self.equity.size),
            "initial_capital": float(self.initial_capital),
            "final_equity": self.final_equity,
            "metrics": self.metrics.to_dict(),
            "benchmark": dict(self.benchmark),
            "equity_curve": {
                "timestamps": _iso(self.timestamps[picked]),
                "values": self.equity[picked].tolist(),
            },
            "trades": self.trades.to_records(),
        }


def run_backtest(
    bars: Bars,
    positions: npt.NDArray[Any],
    spec: BacktestSpec,
    *,
    reporter: ProgressReporter,
    token: CancellationToken,
    chunk_size: int = 2_000,
    bars_per_year: float = 252.0,
) -> BacktestResult:
    """Replay ``positions`` (one of -1, 0, 1 per bar) over ``bars``; see the module docstring."""
    total = len(bars)
    held_from_close = _checked_positions(bars, positions, spec)
    if chunk_size < 1:
        raise InvalidRequestError(
            "chunk_size must be at least 1", details={"chunk_size": chunk_size}
        )
    cost = spec.commission + spec.slippage
    close = bars.close
    # held[t]: the position carried through bar t, i.e. the one decided at the previous close.
    held = np.empty_like(held_from_close)
    held[0] = 0
    held[1:] = held_from_close[:-1]

    equity = np.empty(total, dtype=np.float64)
    carry = float(spec.initial_capital)
    token.raise_if_cancelled(where=f"Bar 0/{total:,}")
    for start in range(0, total, chunk_size):
        stop = min(start + chunk_size, total)
        factors = _growth_factors(close, held_from_close, held, start, stop, cost)
        # Folding the carry into the first factor keeps the multiplication order identical to
        # a single pass, so the result does not depend on chunk_size at all.
        factors[0] *= carry
        np.cumprod(factors, out=equity[start:stop])
        carry = float(equity[stop - 1])

        where = f"Bar {stop:,}/{total:,}"
        reporter.report(
            ProgressUpdate(stop / total * 100.0, where, items_processed=stop, items_total=total)
        )
        if stop < total:
            token.raise_if_cancelled(where=where)

    trades = _trades(bars, held_from_close, cost)
    curve = np.concatenate(([float(spec.initial_capital)], equity))
    metrics = compute_metrics(curve, trades.net_return, held[1:], bars_per_year=bars_per_year)
    return BacktestResult(
        benchmark=buy_and_hold(close, cost, bars_per_year),
        symbol=bars.symbol,
        timeframe=bars.timeframe,
        mode=spec.mode,
        initial_capital=float(spec.initial_capital),
        metrics=metrics,
        timestamps=bars.timestamps,
        equity=equity,
        trades=trades,
    )


def _growth_factors(
    close: FloatArray,
    held_from_close: IntArray,
    held: IntArray,
    start: int,
    stop: int,
    cost: float,
) -> FloatArray:
    """Equity multipliers for bars [start, stop): the held position's return, less costs."""
    previous_close = close[max(start - 1, 0) : stop - 1]
    bar_returns = np.empty(stop - start, dtype=np.float64)
    if start == 0:
        bar_returns[0] = 0.0
        bar_returns[1:] = close[1:stop] / previous_close - 1.0
    else:
        bar_returns[:] = close[start:stop] / previous_close - 1.0
    turnover = np.abs(held_from_close[start:stop] - held[start:stop])
    factors: FloatArray = (1.0 + held[start:stop] * bar_returns) * (1.0 - cost * turnover)
    # A short can lose more than everything; equity stops at zero (the account is ruined).
    np.maximum(factors, 0.0, out=factors)
    return factors


def buy_and_hold(close: FloatArray, cost: float, bars_per_year: float) -> dict[str, float]:
    """Long from the first close to the last, paying ``cost`` on the way in and out.

    Only the four numbers a verdict compares are computed, from the growth factors directly
    (a long-only equity never reaches zero on positive prices, so factor - 1 is the return).
    """
    total = close.size
    decided = np.ones(total, dtype=np.int64)
    decided[-1] = 0
    held = np.concatenate(([0], decided[:-1]))
    factors = _growth_factors(close, decided, held, 0, total, cost)
    curve = np.concatenate(([1.0], np.cumprod(factors)))
    return {
        "total_return": total_return(curve),
        "annualised_return": annualised_return(curve, bars_per_year),
        "sharpe_ratio": sharpe_ratio(factors - 1.0, bars_per_year),
        "max_drawdown": max_drawdown(curve),
    }


def _checked_positions(bars: Bars, positions: npt.NDArray[Any], spec: BacktestSpec) -> IntArray:
    total = len(bars)
    if total < 2:
        raise InvalidRequestError("a backtest needs at least 2 bars", details={"bars": total})
    raw = np.asarray(positions)
    if raw.shape != (total,):
        raise InvalidRequestError(
            f"positions must have one value per bar: got shape {raw.shape}, {total} bars",
            details={"positions_shape": list(raw.shape), "bars": total},
        )
    if not np.all(np.isin(raw, (-1, 0, 1))):
        raise InvalidRequestError("positions must each be -1, 0 or 1")
    close = bars.close
    if not (np.all(np.isfinite(close)) and np.all(close > 0)):
        raise InvalidRequestError("close prices must be finite and positive")
    decided = raw.astype(np.int64)
    if spec.mode == "long_flat":
        np.maximum(decided, 0, out=decided)
    decided[-1] = 0  # the book is closed at the last close
    return decided


def _trades(bars: Bars, decided: IntArray, cost: float) -> TradeLog:
    """Every run of one non-zero position is a trade, entered and exited at a close."""
    previous = np.concatenate(([0], decided[:-1]))
    changes = np.flatnonzero(decided != previous)
    entries = changes[decided[changes] != 0]
    # The last position is always 0, so each entry has a later change that ends it.
    exits = changes[np.searchsorted(changes, entries, side="right")]
    direction = decided[entries]
    entry_price = bars.close[entries]
    exit_price = bars.close[exits]
    gross = direction * (exit_price / entry_price - 1.0)
    net = (1.0 + gross) * (1.0 - cost) ** 2 - 1.0
    return TradeLog(
        direction=direction,
        entry_time=bars.timestamps[entries],
        exit_time=bars.timestamps[exits],
        entry_price=entry_price,
        exit_price=exit_price,
        net_return=net,
        bars_held=exits - entries,
    )
