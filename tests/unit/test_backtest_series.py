"""The series behind a backtest's picture: drawdown, downsampling that keeps the extremes,
the buy-and-hold curve the engine records, and the read that answers the series route."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ktrdr.backtesting import run_backtest
from ktrdr.backtesting.engine import buy_and_hold
from ktrdr.backtesting.metrics import max_drawdown
from ktrdr.backtesting.series import downsample, drawdown
from ktrdr.errors import ConflictError, InvalidRequestError, NotFoundError
from ktrdr.jobs.pictures import DetailFiles, backtest_series
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.progress import NullProgressReporter
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationType
from ktrdr.records.results import BacktestSummary
from ktrdr.strategies.models import BacktestSpec
from tests.unit.test_backtest_engine import make_bars, random_walk


def walk(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))


def kept_max_drawdown(equity: np.ndarray, indices: np.ndarray, capital: float) -> float:
    """The maximum drawdown recomputed from the kept points only."""
    return float(-drawdown(equity[indices], capital).min())


def test_drawdown_by_hand() -> None:
    falls = drawdown(np.array([100.0, 110.0, 99.0, 120.0, 60.0]))
    assert falls.tolist() == pytest.approx([0.0, 0.0, 99 / 110 - 1, 0.0, -0.5])
    # From a capital above the first bar, the first bar is already below its peak.
    assert drawdown(np.array([90.0, 100.0]), 100.0).tolist() == pytest.approx([-0.1, 0.0])
    assert drawdown(np.array([])).size == 0
    assert drawdown(np.array([100.0, 0.0]), 100.0).tolist() == [0.0, -1.0]  # ruined


def test_drawdown_matches_the_engines_max_drawdown() -> None:
    equity = walk(3_000, seed=3)
    curve = np.concatenate([[1000.0], equity])
    assert -drawdown(equity, 1000.0).min() == pytest.approx(max_drawdown(curve), abs=1e-15)


def test_a_short_series_is_sent_whole() -> None:
    kept = downsample(walk(500), 500)
    assert not kept.downsampled and kept.indices.tolist() == list(range(500))


@pytest.mark.parametrize("max_points", [4, 5, 10, 97, 2_000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_long_series_keeps_its_ends_and_its_deepest_drawdown(max_points: int, seed: int) -> None:
    equity = walk(50_000, seed)
    kept = downsample(equity, max_points, 1000.0)
    indices = kept.indices
    assert kept.downsampled and 2 <= indices.size <= max_points
    assert indices[0] == 0 and indices[-1] == equity.size - 1
    assert np.all(np.diff(indices) > 0)
    full = drawdown(equity, 1000.0)
    # The deepest drawdown is among the sent points, and recomputing it from them alone
    # finds the same number (its peak was kept too).
    assert full[indices].min() == full.min()
    assert kept_max_drawdown(equity, indices, 1000.0) == pytest.approx(-full.min(), abs=1e-15)


def test_with_room_the_highest_and_lowest_equity_survive() -> None:
    equity = walk(20_000, seed=7)
    indices = downsample(equity, 2_000).indices
    assert equity[indices].max() == equity.max() and equity[indices].min() == equity.min()
    assert indices.size > 1_000  # the budget is used (a bucket's lows often coincide)


def test_two_points_are_the_ends() -> None:
    assert downsample(walk(100), 2).indices.tolist() == [0, 99]
    with pytest.raises(ValueError):
        downsample(walk(100), 1)


def test_the_engine_records_buy_and_hold_on_the_same_bars_and_costs() -> None:
    bars = make_bars([100.0, 110.0, 121.0, 108.9])
    spec = BacktestSpec(mode="long_flat", commission=0.001, slippage=0.0, initial_capital=50.0)
    result = run_backtest(
        bars, np.ones(4), spec, reporter=NullProgressReporter(), token=CancellationToken()
    )
    held = result.buy_and_hold_equity
    assert held.size == result.equity.size
    # Always long *is* buy-and-hold: the same equity, bar by bar.
    assert held.tolist() == pytest.approx(result.equity.tolist())
    assert held[-1] == pytest.approx(50.0 * 0.999 * 1.089 * 0.999)
    curve = np.concatenate([[50.0], held])
    assert max_drawdown(curve) == pytest.approx(result.benchmark.max_drawdown)
    detail = result.to_detail()
    assert detail["buy_and_hold_curve"]["values"] == held.tolist()
    assert len(detail["buy_and_hold_curve"]["values"]) == len(detail["equity_curve"]["values"])
    # The figures did not change with the curve being kept.
    moves = np.array([0.0, 0.1, 0.1, -0.1])
    again = buy_and_hold(moves, 0.001, 252.0)
    assert again.to_dict() == pytest.approx(result.benchmark.to_dict())


# --- the read behind GET /backtests/{id}/series ----------------------------------------


@pytest.fixture
def service() -> OperationsService:
    return OperationsService(InMemoryOperationStore())


def completed_backtest(service: OperationsService, tmp_path: Path, bars: int) -> str:
    spec = BacktestSpec(mode="long_short", commission=0.001, slippage=0.0005)
    result = run_backtest(
        random_walk(bars, seed=4),
        np.random.default_rng(4).integers(-1, 2, bars),
        spec,
        reporter=NullProgressReporter(),
        token=CancellationToken(),
    )
    op = service.create(OperationType.BACKTESTING)
    service.start(op.operation_id)
    path = tmp_path / f"{op.operation_id}.json"
    path.write_text(json.dumps(result.to_detail()))
    summary = BacktestSummary(strategy_name="walker", detail_path=str(path))
    service.complete(op.operation_id, summary.to_dict())
    return op.operation_id


def test_a_short_backtest_answers_its_exact_series(
    service: OperationsService, tmp_path: Path
) -> None:
    op_id = completed_backtest(service, tmp_path, 300)
    detail = json.loads((tmp_path / f"{op_id}.json").read_text())
    series = backtest_series(service, DetailFiles(), op_id, 2_000)
    assert not series.downsampled and series.bars == series.points == 300
    assert series.equity == detail["equity_curve"]["values"]
    assert series.timestamps == detail["equity_curve"]["timestamps"]
    assert series.buy_and_hold == detail["buy_and_hold_curve"]["values"]
    assert len(series.drawdown) == 300 and max(series.drawdown) <= 0.0
    assert -min(series.drawdown) == pytest.approx(detail["metrics"]["max_drawdown"])
    assert len(series.trades) == len(detail["trades"]) > 0
    assert series.trades[0].net_return == detail["trades"][0]["return"]
    assert series.strategy_name == "walker" and series.metrics.num_trades == len(series.trades)
    wire = series.model_dump(mode="json")
    assert set(wire["trades"][0]) == {
        "direction",
        "entry_time",
        "exit_time",
        "entry_price",
        "exit_price",
        "return",
        "bars_held",
    }


def test_a_long_backtest_answers_a_downsampled_series_with_the_same_deepest_drawdown(
    service: OperationsService, tmp_path: Path
) -> None:
    op_id = completed_backtest(service, tmp_path, 12_000)
    series = backtest_series(service, DetailFiles(), op_id, 500)
    assert series.downsampled and series.bars == 12_000 and series.points <= 500
    assert series.points == len(series.timestamps) == len(series.equity)
    assert len(series.buy_and_hold) == len(series.drawdown) == series.points
    assert series.timestamps == sorted(series.timestamps)
    detail = json.loads((tmp_path / f"{op_id}.json").read_text())
    assert -min(series.drawdown) == pytest.approx(detail["metrics"]["max_drawdown"])
    assert series.equity[-1] == detail["final_equity"]


def test_an_older_detail_file_without_buy_and_hold_answers_an_empty_list(
    service: OperationsService, tmp_path: Path
) -> None:
    op_id = completed_backtest(service, tmp_path, 100)
    path = tmp_path / f"{op_id}.json"
    detail = json.loads(path.read_text())
    del detail["buy_and_hold_curve"]
    path.write_text(json.dumps(detail))
    series = backtest_series(service, DetailFiles(), op_id, 2_000)
    assert series.buy_and_hold == [] and len(series.equity) == 100


def test_the_series_read_refuses_what_has_no_series(
    service: OperationsService, tmp_path: Path
) -> None:
    training = service.create(OperationType.TRAINING)
    with pytest.raises(InvalidRequestError) as refused:
        backtest_series(service, DetailFiles(), training.operation_id, 2_000)
    assert refused.value.code == "not_a_backtest"
    running = service.create(OperationType.BACKTESTING)
    service.start(running.operation_id)
    with pytest.raises(ConflictError) as conflict:
        backtest_series(service, DetailFiles(), running.operation_id, 2_000)
    assert conflict.value.code == "not_completed"
    gone = completed_backtest(service, tmp_path, 50)
    (tmp_path / f"{gone}.json").unlink()
    with pytest.raises(NotFoundError) as missing:
        backtest_series(service, DetailFiles(), gone, 2_000)
    assert missing.value.code == "backtest_detail_missing"


def test_a_rewritten_detail_file_is_read_again(service: OperationsService, tmp_path: Path) -> None:
    op_id = completed_backtest(service, tmp_path, 100)
    files = DetailFiles()
    first = backtest_series(service, files, op_id, 2_000)
    path = tmp_path / f"{op_id}.json"
    detail = json.loads(path.read_text())
    detail["equity_curve"]["values"] = [v * 2 for v in detail["equity_curve"]["values"]]
    path.write_text(json.dumps(detail, indent=1))  # another size, so another key
    second = backtest_series(service, files, op_id, 2_000)
    assert second.equity == [v * 2 for v in first.equity]
