"""The backtest engine: replays a position series over bars and books equity, costs and trades.

Timing rule (no look-ahead): ``positions[t]`` is decided at the close of bar ``t`` and earns
the return of bar ``t + 1``. Changing position at a close costs
``(commission + slippage) * |change|`` of equity at that moment. The book is closed at the
last bar's close, so every trade has an exit and the final liquidation is paid for.

The per-bar work is whole-array numpy passes, each done once and shared (bar returns feed
the strategy and the buy-and-hold benchmark, position changes feed costs and trades); only
the running product, the equity, goes chunk by chunk (the running equity carried across)
so long series report progress and can be cancelled between chunks. Results do not depend
on the chunk size, bit for bit (tests/unit/test_backtest_reference.py checks the engine
against a bar-by-bar loop).

The engine makes the records the rest of the system keeps: the strategy's
``TradingMetrics``, the buy-and-hold ``BenchmarkFigures``, and (``BacktestResult.summary``)
the ``BacktestSummary`` a backtest operation stores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ktrdr.backtesting.metrics import (
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
from ktrdr.records.results import (
    BacktestSummary,
    BenchmarkFigures,
    EquityCurve,
    TradingMetrics,
)
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
    metrics: TradingMetrics
    timestamps: TimeArray  # one per bar
    equity: FloatArray  # equity at each bar's close, after that close's trading costs
    trades: TradeLog
    # Buying at the first close and selling at the last, same bars and costs: the bar any
    # strategy has to clear.
    benchmark: BenchmarkFigures
    # That buy-and-hold position's equity at each bar's close, from the same capital.
    buy_and_hold_equity: FloatArray

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1])

    def equity_curve(self, max_points: int | None = None) -> EquityCurve:
        """The equity at each bar's close; ``max_points`` thins a long curve (the first and
        last bars kept, the rest evenly spaced)."""
        picked = np.arange(self.equity.size)
        if max_points is not None and 1 < max_points < self.equity.size:
            picked = np.unique(
                np.linspace(0, self.equity.size - 1, max_points).round().astype(np.int64)
            )
        return EquityCurve(
            timestamps=tuple(_iso(self.timestamps[picked])),
            values=tuple(self.equity[picked].tolist()),
        )

    def summary(
        self,
        *,
        max_equity_points: int | None = None,
        strategy_name: str | None = None,
        model: str | None = None,
        detail_path: str | None = None,
    ) -> BacktestSummary:
        """The run as the record a backtest operation stores. The engine knows its figures;
        the caller names what it ran (``strategy_name``, ``model``) and where it kept the
        detail: a name left out is no key at all."""
        named = {"strategy_name": strategy_name, "model": model, "detail_path": detail_path}
        return BacktestSummary(
            symbol=self.symbol,
            timeframe=self.timeframe,
            mode=self.mode,
            start=_iso(self.timestamps[:1])[0],
            end=_iso(self.timestamps[-1:])[0],
            bars=int(self.equity.size),
            initial_capital=float(self.initial_capital),
            final_equity=self.final_equity,
            metrics=self.metrics,
            benchmark=self.benchmark,
            equity_curve=self.equity_curve(max_equity_points),
            trades_count=len(self.trades),
            **{key: value for key, value in named.items() if value is not None},
        )

    def to_detail(self) -> dict[str, Any]:
        """What the detail file keeps: the summary with the whole equity curve, every trade,
        and the buy-and-hold equity on the same bars (``buy_and_hold_curve.values``, one per
        ``equity_curve`` timestamp)."""
        return {
            **self.summary().to_dict(),
            "trades": self.trades.to_records(),
            "buy_and_hold_curve": {"values": self.buy_and_hold_equity.tolist()},
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
    decided = _checked_positions(bars, positions, spec)
    if chunk_size < 1:
        raise InvalidRequestError(
            "chunk_size must be at least 1", details={"chunk_size": chunk_size}
        )
    cost = spec.commission + spec.slippage
    moves = _bar_returns(bars.close)
    changes = _changes(decided)
    factors = _growth_factors(moves, decided, changes, cost)

    # curve[0] is the capital before the first bar; equity is a view of the rest, so the
    # metrics get the whole curve without a copy.
    curve = np.empty(total + 1, dtype=np.float64)
    curve[0] = float(spec.initial_capital)
    equity = curve[1:]
    carry = float(spec.initial_capital)
    token.raise_if_cancelled(where=f"Bar 0/{total:,}")
    for start in range(0, total, chunk_size):
        stop = min(start + chunk_size, total)
        # Folding the carry into the first factor keeps the multiplication order identical to
        # a single pass, so the result does not depend on chunk_size at all.
        factors[start] *= carry
        np.cumprod(factors[start:stop], out=equity[start:stop])
        carry = float(equity[stop - 1])

        where = f"Bar {stop:,}/{total:,}"
        reporter.report(
            ProgressUpdate(stop / total * 100.0, where, items_processed=stop, items_total=total)
        )
        if stop < total:
            token.raise_if_cancelled(where=where)

    trades = _trades(bars, decided, changes, cost)
    # held through bars 1..n-1 is the position decided at the close before each of them.
    metrics = compute_metrics(curve, trades.net_return, decided[:-1], bars_per_year=bars_per_year)
    benchmark, benchmark_curve = _buy_and_hold(moves, cost, bars_per_year)
    return BacktestResult(
        benchmark=benchmark,
        buy_and_hold_equity=benchmark_curve[1:] * float(spec.initial_capital),
        symbol=bars.symbol,
        timeframe=bars.timeframe,
        mode=spec.mode,
        initial_capital=float(spec.initial_capital),
        metrics=metrics,
        timestamps=bars.timestamps,
        equity=equity,
        trades=trades,
    )


def _bar_returns(close: FloatArray) -> FloatArray:
    """``close[t] / close[t - 1] - 1`` per bar; 0 for the first bar (nothing was held)."""
    moves = np.empty(close.size, dtype=np.float64)
    moves[0] = 0.0
    np.divide(close[1:], close[:-1], out=moves[1:])
    moves[1:] -= 1.0
    return moves


def _changes(decided: IntArray) -> IntArray:
    """Bars whose close changes the position (the one before the first bar is 0)."""
    changed = np.empty(decided.size, dtype=np.bool_)
    changed[0] = decided[0] != 0
    np.not_equal(decided[1:], decided[:-1], out=changed[1:])
    return np.flatnonzero(changed)


def _growth_factors(
    moves: FloatArray, decided: IntArray, changes: IntArray, cost: float
) -> FloatArray:
    """Equity multiplier per bar: ``(1 + held * move) * (1 - cost * |position change|)``.

    Costs are applied only where the position changes (elsewhere the second term is exactly
    1.0, so skipping it changes no bit), which turns a dense pass into a sparse one.
    """
    factors = np.empty(moves.size, dtype=np.float64)
    factors[0] = 1.0  # nothing is held through the first bar
    np.multiply(moves[1:], decided[:-1], out=factors[1:])
    factors[1:] += 1.0
    if changes.size:
        # decided[-1] is always 0, so decided[changes - 1] reads 0 for a change at bar 0:
        # exactly the flat position held before the first bar.
        turnover = np.abs(decided[changes] - decided[changes - 1])
        factors[changes] *= 1.0 - cost * turnover
        # A short can lose more than everything; equity stops at zero (the account is
        # ruined). Without a short every factor is already >= 0 (1 + move >= 0 on positive
        # prices; BacktestSpec keeps commission + slippage below 0.2, so 1 - 2 x cost > 0)
        # and the clamp is skipped.
        if np.any(decided[changes] < 0):
            np.maximum(factors, 0.0, out=factors)
    return factors


def buy_and_hold(moves: FloatArray, cost: float, bars_per_year: float) -> BenchmarkFigures:
    """Long from the first close to the last, paying ``cost`` on the way in and out.

    ``moves`` are the bar returns (``_bar_returns``). Only the four numbers a verdict
    compares are computed, from the growth factors directly (a long-only equity never
    reaches zero on positive prices, so factor - 1 is the return).
    """
    return _buy_and_hold(moves, cost, bars_per_year)[0]


def _buy_and_hold(
    moves: FloatArray, cost: float, bars_per_year: float
) -> tuple[BenchmarkFigures, FloatArray]:
    """``buy_and_hold``'s figures and its growth curve (1.0 before the first bar)."""
    # The factors _growth_factors gives an always-long position closed at the last bar:
    # the entry cost at bar 0, 1 + move while held, the exit cost with the last bar's move.
    factors = moves + 1.0
    factors[0] = 1.0 - cost
    factors[-1] *= 1.0 - cost
    curve = np.empty(moves.size + 1, dtype=np.float64)
    curve[0] = 1.0
    np.cumprod(factors, out=curve[1:])
    factors -= 1.0  # per-bar returns, for the Sharpe ratio
    figures = BenchmarkFigures(
        total_return=total_return(curve),
        annualised_return=annualised_return(curve, bars_per_year),
        sharpe_ratio=sharpe_ratio(factors, bars_per_year),
        max_drawdown=max_drawdown(curve),
    )
    return figures, curve


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
    if not _all_unit_steps(raw):
        raise InvalidRequestError("positions must each be -1, 0 or 1")
    close = bars.close
    # min > 0 is False for a NaN minimum; a finite maximum rules out +inf.
    if not (close.min() > 0 and math.isfinite(float(close.max()))):
        raise InvalidRequestError("close prices must be finite and positive")
    decided: IntArray
    if spec.mode == "long_flat":
        decided = np.maximum(raw, 0).astype(np.int64, copy=False)  # a new array either way
    else:
        decided = raw.astype(np.int64)
    decided[-1] = 0  # the book is closed at the last close
    return decided


def _all_unit_steps(raw: npt.NDArray[Any]) -> bool:
    """Every value is -1, 0 or 1. Integers only need their range checked (two fast
    reductions); anything else gets the exact membership test."""
    if raw.dtype == np.bool_:
        return True
    if np.issubdtype(raw.dtype, np.integer):
        return bool(raw.min() >= -1 and raw.max() <= 1)
    return bool(np.all(np.isin(raw, (-1, 0, 1))))


def _trades(bars: Bars, decided: IntArray, changes: IntArray, cost: float) -> TradeLog:
    """Every run of one non-zero position is a trade, entered and exited at a close."""
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
