"""Backtest speed: ktrdr's engine vs a plain numpy floor and backtesting.py, same SMA
crossover, same data, same run.

The floor is the same computation written as straight numpy (no validation, no chunks or
progress, no result objects): the equity curve with costs, the trades, the nine metrics and
the buy-and-hold benchmark, from the same positions. The goal is ktrdr >= 0.5x its speed.
A bare "equity only" line (returns, costs, cumprod, final equity) is shown too, as the
least work any backtest does. Signals (ktrdr's exact per-window SMA) are timed apart: they
are the indicator layer's cost, not the engine's.

backtesting.py is installed by this benchmark into its own venv (benchmarks/.venv-backtesting),
never into ktrdr's dependencies. Both engines get the same bars: the bundled S&P 500 (5,031
daily bars) and the same data tiled to 1,000,000 bars (the real series repeated end to end, with
minute timestamps so pandas can index them).

    python -m benchmarks.backtest_speed [--bars 1000000] [--skip-external]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import venv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import best_of, save, table
from ktrdr.backtesting.engine import run_backtest
from ktrdr.bootstrap import build_operations
from ktrdr.config import load_settings
from ktrdr.data.bars import Bars
from ktrdr.data.market import MarketData
from ktrdr.indicators.technical import sma
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.progress import NullProgressReporter
from ktrdr.operations.reporting import OperationProgressReporter
from ktrdr.records.models import OperationType
from ktrdr.strategies.models import BacktestSpec

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-backtesting"
RUNNER = HERE / "_backtesting_py_runner.py"
FAST, SLOW, COMMISSION = 10, 30, 0.001


def tiled(bars: Bars, total: int) -> Bars:
    """The real series repeated end to end (prices stay in the real range; each seam is one
    big gap, like a crash), with fresh minute timestamps so pandas can index 1M bars."""
    reps = -(-total // len(bars))

    def rep(values: np.ndarray) -> np.ndarray:
        return np.tile(values, reps)[:total]

    start = np.datetime64("2000-01-03T00:00", "s")
    return Bars(
        symbol="SP500x",
        timeframe="1m",
        timestamps=start + np.arange(total) * np.timedelta64(60, "s"),
        open=rep(bars.open),
        high=rep(bars.high),
        low=rep(bars.low),
        close=rep(bars.close),
        volume=rep(bars.volume),
    )


def sma_positions(bars: Bars) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (sma(bars.close, FAST) > sma(bars.close, SLOW)).astype(np.int64)


def floor_run(close: np.ndarray, positions: np.ndarray, cost: float) -> dict[str, float]:
    """The same outputs as run_backtest, as plain numpy (long/flat positions given)."""
    capital, per_year = 100_000.0, 252.0
    decided = positions.astype(np.int64)
    decided[-1] = 0
    held = np.concatenate(([0], decided[:-1]))
    moves = np.concatenate(([0.0], close[1:] / close[:-1] - 1.0))
    turnover = np.abs(np.diff(decided, prepend=0))
    curve = np.concatenate(
        ([capital], capital * np.cumprod((1.0 + held * moves) * (1.0 - cost * turnover)))
    )
    rets = curve[1:] / curve[:-1] - 1.0
    changes = np.flatnonzero(turnover)
    entries = changes[decided[changes] != 0]
    exits = changes[np.searchsorted(changes, entries, side="right")]
    gross = close[exits] / close[entries] - 1.0
    trade_returns = (1.0 + gross) * (1.0 - cost) ** 2 - 1.0
    losses = -trade_returns[trade_returns < 0].sum()
    bh = 1.0 + moves
    bh[0], bh[-1] = 1.0 - cost, bh[-1] * (1.0 - cost)
    bh_curve = np.concatenate(([1.0], np.cumprod(bh)))

    def drawdown(c: np.ndarray) -> float:
        return float(np.max(1.0 - c / np.maximum.accumulate(c)))

    return {
        "final_equity": float(curve[-1]),
        "trades": float(entries.size),
        "total_return": float(curve[-1] / curve[0] - 1.0),
        "annualised_return": float((curve[-1] / curve[0]) ** (per_year / rets.size) - 1.0),
        "sharpe_ratio": float(rets.mean() / rets.std(ddof=1) * np.sqrt(per_year)),
        "sortino_ratio": float(
            rets.mean() / np.sqrt(np.mean(np.minimum(rets, 0.0) ** 2)) * np.sqrt(per_year)
        ),
        "max_drawdown": drawdown(curve),
        "win_rate": float(np.mean(trade_returns > 0)),
        "profit_factor": float(trade_returns[trade_returns > 0].sum() / losses),
        "exposure": float(np.count_nonzero(held[1:]) / (held.size - 1)),
        "bh_total_return": float(bh_curve[-1] - 1.0),
        "bh_sharpe_ratio": float((bh - 1.0).mean() / (bh - 1.0).std(ddof=1) * np.sqrt(per_year)),
        "bh_max_drawdown": drawdown(bh_curve),
    }


def equity_only_run(close: np.ndarray, positions: np.ndarray, cost: float) -> float:
    """The least any backtest does: held returns, costs on changes, cumprod, final equity."""
    held = np.concatenate(([0], positions[:-1]))
    moves = np.concatenate(([0.0], close[1:] / close[:-1] - 1.0))
    turnover = np.abs(np.diff(positions, prepend=0))
    return float(np.cumprod((1.0 + held * moves) * (1.0 - cost * turnover))[-1])


def floor_comparison(bars: Bars) -> dict[str, float]:
    """Engine vs floor on the same positions (signals computed once, outside the timings)."""
    positions = sma_positions(bars)
    spec = BacktestSpec(mode="long_flat", commission=COMMISSION, slippage=0.0)
    token, reporter = CancellationToken(), NullProgressReporter()
    chunk = max(2_000, len(bars) // 20)
    out = run_backtest(bars, positions, spec, reporter=reporter, token=token, chunk_size=chunk)
    floor = floor_run(bars.close, positions, COMMISSION)
    # Same computation, same answer (up to rounding order): otherwise the floor proves nothing.
    ours = {**out.metrics.to_dict(), "final_equity": out.final_equity}
    for key in ("final_equity", "total_return", "sharpe_ratio", "max_drawdown", "win_rate"):
        assert np.isclose(ours[key], floor[key], rtol=1e-9), (key, ours[key], floor[key])
    assert ours["num_trades"] == floor["trades"]
    assert np.isclose(out.benchmark.to_dict()["sharpe_ratio"], floor["bh_sharpe_ratio"], rtol=1e-9)
    # Interleaved repeats, best of each: both see the same machine load.
    engine, plain, bare = [], [], []
    for _ in range(7):
        engine.append(
            timed(
                lambda: run_backtest(
                    bars, positions, spec, reporter=reporter, token=token, chunk_size=chunk
                )
            )
        )
        plain.append(timed(lambda: floor_run(bars.close, positions, COMMISSION)))
        bare.append(timed(lambda: equity_only_run(bars.close, positions, COMMISSION)))
    signals = best_of(lambda: sma_positions(bars), 3)
    return {
        "engine_seconds": min(engine),
        "floor_seconds": min(plain),
        "equity_only_seconds": min(bare),
        "signals_seconds": signals,
        "speed_vs_floor": min(plain) / min(engine),
        "speed_vs_equity_only": min(bare) / min(engine),
    }


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ktrdr_run(bars: Bars, with_progress: bool) -> tuple[float, dict[str, float]]:
    spec = BacktestSpec(mode="long_flat", commission=COMMISSION, slippage=0.0)
    token = CancellationToken()
    reporter: NullProgressReporter | OperationProgressReporter = NullProgressReporter()
    tmp = tempfile.TemporaryDirectory()
    operations = None
    if with_progress:
        # As the backend builds it (``ktrdr.bootstrap``): reports land in memory, reach
        # SQLite coalesced.
        operations = build_operations(load_settings(data_dir=Path(tmp.name), ephemeral=False))
        service = operations.service
        op = service.create(OperationType.BACKTESTING)
        service.start(op.operation_id)
        reporter = OperationProgressReporter(service, op.operation_id)
    result: dict[str, float] = {}

    def once() -> None:
        positions = sma_positions(bars)  # signals are part of the work, as in backtesting.py
        out = run_backtest(
            bars,
            positions,
            spec,
            reporter=reporter,
            token=token,
            chunk_size=max(2_000, len(bars) // 20),
        )
        result.update(final_equity=out.final_equity, trades=len(out.trades))

    seconds = best_of(once, 3)
    if operations is not None:
        operations.close()
    tmp.cleanup()
    return seconds, result


def ensure_backtesting_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print("  installing backtesting.py into", VENV, "(first run only)...")
        venv.create(VENV, with_pip=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "backtesting", "pandas", "numpy"],
            check=True,
        )
    return python


def external_run(python: Path, bars: Bars, timeout: float) -> dict[str, float] | None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bars.npz"
        np.savez(
            data,
            t=bars.timestamps.astype("datetime64[s]").astype(np.int64),
            o=bars.open,
            h=bars.high,
            l=bars.low,
            c=bars.close,
            v=bars.volume,
        )
        try:
            proc = subprocess.run(
                [str(python), str(RUNNER), str(data), str(FAST), str(SLOW), str(COMMISSION)],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=True,
            )
        except subprocess.TimeoutExpired:
            return None
    out: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--skip-external", action="store_true")
    parser.add_argument("--external-timeout", type=float, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        daily = MarketData(Path(tmp)).load("SP500", "1d")
    cases = {"SP500 daily": daily, f"tiled {args.bars:,}": tiled(daily, args.bars)}
    python = None if args.skip_external else ensure_backtesting_venv()
    results: dict[str, dict[str, float]] = {}
    rows: list[tuple[str, str]] = []
    for name, bars in cases.items():
        versus = floor_comparison(bars)
        rows += [
            (
                f"{name}: engine vs numpy floor",
                f"{versus['engine_seconds'] * 1000:.1f} ms vs {versus['floor_seconds'] * 1000:.1f}"
                f" ms: {versus['speed_vs_floor']:.2f}x the floor's speed (goal >= 0.5x)",
            ),
            (
                f"{name}: engine vs equity-only numpy",
                f"{versus['equity_only_seconds'] * 1000:.1f} ms: "
                f"{versus['speed_vs_equity_only']:.2f}x its speed",
            ),
            (f"{name}: signals (2 SMAs)", f"{versus['signals_seconds'] * 1000:.1f} ms"),
        ]
        plain, ours = ktrdr_run(bars, with_progress=False)
        reported, _ = ktrdr_run(bars, with_progress=True)
        entry = {
            **versus,
            "bars": len(bars),
            "ktrdr_seconds": plain,
            "ktrdr_bars_per_s": len(bars) / plain,
            "ktrdr_with_progress_seconds": reported,
            "progress_overhead_pct": (reported / plain - 1) * 100,
            "ktrdr_final_equity": ours["final_equity"],
            "ktrdr_trades": ours["trades"],
        }
        rows.append(
            (
                f"{name}: ktrdr signals + engine",
                f"{len(bars) / plain:,.0f} bars/s ({plain * 1000:.1f} ms), "
                f"{ours['trades']} trades, final equity {ours['final_equity']:,.0f}",
            )
        )
        rows.append(
            (
                f"{name}: ktrdr + progress into SQLite",
                f"{reported * 1000:.1f} ms ({entry['progress_overhead_pct']:+.1f} %)",
            )
        )
        if python is not None:
            started = time.perf_counter()
            ext = external_run(python, bars, args.external_timeout)
            if ext is None:
                rows.append(
                    (
                        f"{name}: backtesting.py",
                        f"did not finish in {args.external_timeout:.0f}s "
                        f"(> {time.perf_counter() - started:.0f}s)",
                    )
                )
            else:
                entry.update({f"backtesting_py_{k}": v for k, v in ext.items()})
                ratio = ext["seconds"] / plain
                entry["speed_ratio"] = ratio
                rows.append(
                    (
                        f"{name}: backtesting.py",
                        f"{len(bars) / ext['seconds']:,.0f} bars/s "
                        f"({ext['seconds'] * 1000:.0f} ms), {ext['trades']:.0f} trades, "
                        f"final equity {ext['final_equity']:,.0f}",
                    )
                )
                rows.append((f"{name}: ratio", f"ktrdr is {ratio:,.0f}x faster"))
        results[name] = entry
    print("Backtest speed (SMA 10/30 crossover, long/flat, 0.1 % cost per trade side)")
    table(rows)
    print(
        "  (conventions differ slightly: ktrdr trades at the close of the signal bar and\n"
        "   marks costs on equity; backtesting.py buys whole shares, trade_on_close=True)"
    )
    save("backtest_speed", results)


if __name__ == "__main__":
    main()
