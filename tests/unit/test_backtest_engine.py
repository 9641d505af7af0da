"""The backtest engine on hand-checkable price paths, plus chunking, progress and cancel."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from ktrdr.backtesting import BacktestResult, run_backtest
from ktrdr.data.bars import Bars
from ktrdr.errors import InvalidRequestError
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.progress import NullProgressReporter, ProgressUpdate
from ktrdr.strategies.models import BacktestSpec
from tests.support.reporting import RecordingReporter


class CancelOnFirstReport(RecordingReporter):
    def __init__(self, token: CancellationToken) -> None:
        super().__init__()
        self.token = token

    def report(self, update: ProgressUpdate) -> None:
        super().report(update)
        self.token.cancel()


def make_bars(close: list[float] | np.ndarray) -> Bars:
    prices = np.asarray(close, dtype=np.float64)
    stamps = np.datetime64("2020-01-01T00:00:00") + np.arange(prices.size).astype("timedelta64[D]")
    return Bars("TEST", "1d", stamps, prices, prices, prices, prices, np.ones(prices.size))


def random_walk(n: int, seed: int = 0) -> Bars:
    rng = np.random.default_rng(seed)
    return make_bars(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))))


def backtest(
    bars: Bars, positions: list[int] | np.ndarray, spec: BacktestSpec, **kwargs: Any
) -> BacktestResult:
    return run_backtest(
        bars,
        np.asarray(positions),
        spec,
        reporter=kwargs.pop("reporter", NullProgressReporter()),
        token=kwargs.pop("token", CancellationToken()),
        **kwargs,
    )


# +10%, -10%, flat, -10%: long over the first two moves, short over the last.
PATH = make_bars([100.0, 110.0, 99.0, 99.0, 89.1])
DECISIONS = [1, 1, 0, -1, 0]
COST = 0.002  # commission + slippage per unit of position change


def spec(mode: str, commission: float = 0.001, slippage: float = 0.001) -> BacktestSpec:
    return BacktestSpec.model_validate(
        {"mode": mode, "commission": commission, "slippage": slippage, "initial_capital": 100_000}
    )


def test_long_short_books_returns_one_bar_late_and_pays_costs_on_changes() -> None:
    result = backtest(PATH, DECISIONS, spec("long_short"))
    keep = 1 - COST
    expected = [
        100_000 * keep,  # buy at bar 0's close: only the cost
        100_000 * keep * 1.1,  # long through +10%
        100_000 * keep * 1.1 * 0.9 * keep,  # long through -10%, then sell
        100_000 * keep * 1.1 * 0.9 * keep * keep,  # flat; go short at the close
        100_000 * keep * 1.1 * 0.9 * keep * keep * 1.1 * keep,  # short through -10%, close
    ]
    assert result.equity.tolist() == pytest.approx(expected, rel=1e-12)
    assert result.metrics.total_return == pytest.approx(expected[-1] / 100_000 - 1)
    assert result.metrics.exposure == pytest.approx(3 / 4)

    trades = result.trades.to_records()
    assert [t["direction"] for t in trades] == ["long", "short"]
    assert [(t["entry_price"], t["exit_price"], t["bars_held"]) for t in trades] == [
        (100.0, 99.0, 2),
        (99.0, 89.1, 1),
    ]
    assert trades[0]["entry_time"] == "2020-01-01T00:00:00"
    assert trades[1]["exit_time"] == "2020-01-05T00:00:00"
    assert trades[0]["return"] == pytest.approx(0.99 * keep**2 - 1)
    assert trades[1]["return"] == pytest.approx(1.1 * keep**2 - 1)
    assert result.metrics.win_rate == 0.5
    assert result.metrics.profit_factor == pytest.approx((1.1 * keep**2 - 1) / (1 - 0.99 * keep**2))


def test_long_flat_turns_shorts_into_cash() -> None:
    result = backtest(PATH, DECISIONS, spec("long_flat"))
    keep = 1 - COST
    after_long = 100_000 * keep * 1.1 * 0.9 * keep
    assert result.equity.tolist() == pytest.approx(
        [100_000 * keep, 100_000 * keep * 1.1, after_long, after_long, after_long], rel=1e-12
    )
    assert len(result.trades) == 1
    assert result.metrics.exposure == pytest.approx(2 / 4)


def test_without_costs_a_position_earns_exactly_the_next_bars_move() -> None:
    # Deciding to go long at the close of the jump bar must not earn the jump itself.
    bars = make_bars([100.0, 200.0, 220.0])
    result = backtest(bars, [0, 1, 0], spec("long_flat", 0.0, 0.0))
    assert result.equity.tolist() == pytest.approx([100_000, 100_000, 110_000])


def test_an_open_position_is_closed_and_paid_for_at_the_last_bar() -> None:
    bars = make_bars([100.0, 105.0, 110.25])
    result = backtest(bars, [1, 1, 1], spec("long_flat"))
    keep = 1 - COST
    assert result.final_equity == pytest.approx(100_000 * keep * 1.05 * 1.05 * keep)
    (trade,) = result.trades.to_records()
    assert (trade["bars_held"], trade["exit_price"]) == (2, 110.25)


def test_chunked_result_equals_single_chunk_result_exactly() -> None:
    bars = random_walk(5_003)
    positions = np.random.default_rng(1).integers(-1, 2, len(bars))
    whole = backtest(bars, positions, spec("long_short"), chunk_size=10_000)
    for chunk_size in (1, 7, 2_000):
        chunked = backtest(bars, positions, spec("long_short"), chunk_size=chunk_size)
        assert np.array_equal(chunked.equity, whole.equity)
        assert chunked.metrics == whole.metrics
        assert chunked.to_detail() == whole.to_detail()


def test_progress_is_reported_per_chunk_and_reaches_the_end() -> None:
    reporter = RecordingReporter()
    backtest(random_walk(5_000), np.ones(5_000), spec("long_flat"), reporter=reporter)
    assert [r["percentage"] for r in reporter.reports] == [40.0, 80.0, 100.0]
    assert [r["current_step"] for r in reporter.reports] == [
        "Bar 2,000/5,000",
        "Bar 4,000/5,000",
        "Bar 5,000/5,000",
    ]
    assert [r["items_processed"] for r in reporter.reports] == [2_000, 4_000, 5_000]
    assert {r["items_total"] for r in reporter.reports} == {5_000}


def test_cancel_between_chunks_says_which_bar_it_stopped_at() -> None:
    token = CancellationToken()
    reporter = CancelOnFirstReport(token)
    with pytest.raises(CancellationRequested) as stopped:
        backtest(
            random_walk(5_000), np.ones(5_000), spec("long_flat"), reporter=reporter, token=token
        )
    assert stopped.value.where == "Bar 2,000/5,000"
    assert len(reporter.reports) == 1


def test_an_already_cancelled_token_stops_before_the_first_bar() -> None:
    token = CancellationToken()
    token.cancel()
    with pytest.raises(CancellationRequested) as stopped:
        backtest(random_walk(10), np.ones(10), spec("long_flat"), token=token)
    assert stopped.value.where == "Bar 0/10"


@pytest.mark.parametrize(
    "positions",
    [np.ones(4), np.array([0, 1, 2, 0, 1]), np.array([0.0, 0.5, 1.0, 0.0, 1.0])],
)
def test_positions_must_be_one_of_minus_one_zero_one_per_bar(positions: np.ndarray) -> None:
    with pytest.raises(InvalidRequestError):
        backtest(PATH, positions, spec("long_short"))


def test_summary_and_detail_are_plain_json() -> None:
    result = backtest(
        random_walk(300), np.random.default_rng(2).integers(-1, 2, 300), spec("long_short")
    )
    detail = result.to_detail()
    text = json.dumps(detail, allow_nan=False)
    assert json.loads(text) == detail
    assert len(detail["equity_curve"]["values"]) == 300
    assert detail["metrics"]["num_trades"] == len(detail["trades"]) == detail["trades_count"]

    thinned = result.summary(max_equity_points=50)
    assert thinned.equity_curve is not None and len(thinned.equity_curve.values) == 50
    assert thinned.equity_curve.values[-1] == result.final_equity
    assert thinned.metrics is result.metrics  # the engine's record, not a copy of it
    stored = thinned.to_dict()
    assert json.loads(json.dumps(stored, allow_nan=False)) == stored
    # Names the engine was not given are no keys at all (a job gives them).
    assert not {"strategy_name", "model", "detail_path"} & set(stored)


def test_buy_and_hold_benchmark_by_hand_and_equal_to_an_always_long_strategy() -> None:
    bars = make_bars([100.0, 110.0, 121.0, 108.9])
    spec = BacktestSpec(mode="long_flat", commission=0.001, slippage=0.0, initial_capital=1.0)
    result = run_backtest(
        bars, np.ones(4), spec, reporter=NullProgressReporter(), token=CancellationToken()
    )
    bench = result.benchmark
    # In at 100 and out at 108.9, one 0.1 % cost each way; the peak was 121 (after entry cost).
    assert bench.total_return == pytest.approx(0.999 * 1.089 * 0.999 - 1)
    assert bench.max_drawdown == pytest.approx(1 - (108.9 * 0.999) / 121)
    # Always long *is* buy-and-hold: the same numbers from the engine's own metrics.
    assert bench.total_return == pytest.approx(result.metrics.total_return)
    assert bench.sharpe_ratio == pytest.approx(result.metrics.sharpe_ratio)
    assert bench.max_drawdown == pytest.approx(result.metrics.max_drawdown)
    assert bench.annualised_return == pytest.approx(result.metrics.annualised_return)
    assert bench.name is None  # a research cycle names the benchmark it compares with
    assert result.summary().benchmark is bench

    flat = run_backtest(
        bars, np.zeros(4), spec, reporter=NullProgressReporter(), token=CancellationToken()
    )
    assert flat.metrics.total_return == 0.0
    assert flat.benchmark == bench  # the benchmark does not depend on the strategy
