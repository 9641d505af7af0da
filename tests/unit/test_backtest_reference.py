"""The vectorised backtest engine against a bar-by-bar reference written as plainly as possible.

The reference walks the bars in a Python loop, applying the engine's documented rules (a
position decided at close t earns bar t+1's move; a change pays cost * |change|; the book is
closed at the last close; equity stops at zero). Equity and trades are the same IEEE
operations in the same order, so they must match bit for bit; the metrics sum in a
different order (Python vs numpy's pairwise sums), so they match to 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from ktrdr.backtesting import run_backtest
from ktrdr.data.bars import Bars
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.progress import NullProgressReporter
from ktrdr.strategies.models import BacktestSpec


@dataclass
class Reference:
    equity: list[float]
    trades: list[tuple[int, int, int, float]]  # direction, entry bar, exit bar, net return
    metrics: dict[str, float | None]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def reference_backtest(
    close: list[float], positions: list[int], mode: str, cost: float, capital: float
) -> Reference:
    decided = [max(p, 0) if mode == "long_flat" else p for p in positions]
    decided[-1] = 0
    equity, value, before = [], capital, 0
    for t in range(len(close)):
        held = 0 if t == 0 else decided[t - 1]
        move = 0.0 if t == 0 else close[t] / close[t - 1] - 1.0
        factor = (1.0 + held * move) * (1.0 - cost * abs(decided[t] - before))
        value = value * max(factor, 0.0)
        equity.append(value)
        before = decided[t]

    trades, entry = [], None
    for t, position in enumerate(decided):
        previous = decided[t - 1] if t > 0 else 0
        if position != previous:
            if entry is not None:
                gross = decided[entry] * (close[t] / close[entry] - 1.0)
                trades.append((decided[entry], entry, t, (1.0 + gross) * (1.0 - cost) ** 2 - 1.0))
                entry = None
            if position != 0:
                entry = t

    curve = [capital, *equity]
    returns = []
    for a, b in zip(curve, curve[1:], strict=False):
        returns.append(b / a - 1.0 if a > 0 else 0.0)
    mean = _mean(returns)
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    downside = math.sqrt(_mean([min(r, 0.0) ** 2 for r in returns]))
    peak, drawdown = curve[0], 0.0
    for value in curve:
        peak = max(peak, value)
        drawdown = max(drawdown, 1.0 - value / peak)
    growth = curve[-1] / curve[0]
    net = [trade[3] for trade in trades]
    losses = -sum(r for r in net if r < 0)
    metrics: dict[str, float | None] = {
        "total_return": growth - 1.0,
        "annualised_return": -1.0
        if growth <= 0
        else math.expm1(min(math.log(growth) * 252 / len(returns), 700.0)),
        "sharpe_ratio": mean / std * math.sqrt(252) if std > 0 else 0.0,
        "sortino_ratio": mean / downside * math.sqrt(252) if downside > 0 else 0.0,
        "max_drawdown": drawdown,
        "win_rate": sum(r > 0 for r in net) / len(net) if net else 0.0,
        "num_trades": len(net),
        "profit_factor": sum(r for r in net if r > 0) / losses if losses > 0 else None,
        "exposure": sum(p != 0 for p in decided[:-1]) / (len(decided) - 1),
    }
    return Reference(equity, trades, metrics)


def random_case(seed: int) -> tuple[Bars, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    volatility = (0.01, 0.2, 0.9)[seed % 3]  # the last one ruins shorts now and then
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, volatility, n)))
    hold_for = int(rng.integers(1, 12))
    positions = np.repeat(rng.integers(-1, 2, n // hold_for + 1), hold_for)[:n]
    stamps = np.datetime64("2021-03-01T00:00:00") + np.arange(n).astype("timedelta64[h]")
    return Bars("RND", "1h", stamps, close, close, close, close, np.ones(n)), positions


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("mode", ["long_flat", "long_short"])
def test_engine_equals_the_bar_by_bar_reference(seed: int, mode: str) -> None:
    bars, positions = random_case(seed)
    commission = (0.0, 0.001, 0.05)[seed % 3]
    spec = BacktestSpec(mode=mode, commission=commission, slippage=0.0005, initial_capital=10_000.0)
    result = run_backtest(
        bars,
        positions,
        spec,
        reporter=NullProgressReporter(),
        token=CancellationToken(),
        chunk_size=1 + seed % 50,
    )
    expected = reference_backtest(
        bars.close.tolist(), positions.tolist(), mode, commission + 0.0005, 10_000.0
    )

    assert result.equity.tolist() == expected.equity
    log = result.trades
    assert (
        list(
            zip(
                log.direction.tolist(),
                np.searchsorted(bars.timestamps, log.entry_time).tolist(),
                np.searchsorted(bars.timestamps, log.exit_time).tolist(),
                log.net_return.tolist(),
                strict=True,
            )
        )
        == expected.trades
    )
    assert log.bars_held.tolist() == [exit - entry for _, entry, exit, _ in expected.trades]

    metrics = result.metrics.to_dict()
    assert set(metrics) == set(expected.metrics)
    for name, value in expected.metrics.items():
        if value is None:
            assert metrics[name] is None, name
        else:
            assert metrics[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_the_reference_covers_ruin_and_shorts() -> None:
    # The random cases above must include what the fast paths special-case.
    ruined = shorted = 0
    for seed in range(40):
        bars, positions = random_case(seed)
        ref = reference_backtest(bars.close.tolist(), positions.tolist(), "long_short", 0.001, 1.0)
        ruined += ref.equity[-1] == 0.0
        shorted += any(direction < 0 for direction, *_ in ref.trades)
    assert ruined >= 1 and shorted >= 10
