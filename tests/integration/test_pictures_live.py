"""The data behind the pictures through a real backend on loopback: a training's history
growing while it trains, a backtest's series, and the error envelopes of both reads."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ktrdr.client import ApiError, NotFoundApiError
from ktrdr.contract.pictures import TrainingHistoryPublic
from tests.support.live_backend import LiveBackend
from tests.support.waiting import finished_over_http

EPOCHS = 400
UNKNOWN = "op_training_20240101_000000_deadbeef"


def error_of(reply: httpx.Response) -> dict[str, Any]:
    body = reply.json()
    assert body["success"] is False, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}
    return error


def epoch_numbers(history: TrainingHistoryPublic) -> list[int]:
    """The epochs' numbers, in the order sent; every epoch sent has one."""
    numbers = [e.epoch for e in history.epochs]
    assert None not in numbers, numbers
    return [n for n in numbers if n is not None]


@pytest.fixture
def http(backend: LiveBackend) -> Any:
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as client:
        yield client


def test_a_trainings_history_grows_while_it_runs_then_equals_its_result(
    backend: LiveBackend, http: httpx.Client
) -> None:
    reply = http.post("/training/start", json={"strategy": "rsi_mean_reversion", "epochs": EPOCHS})
    assert reply.status_code == 202, reply.text
    op_id = reply.json()["data"]["operation_id"]
    client = backend.client()
    live_reads: list[TrainingHistoryPublic] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        history = client.get_training_history(op_id)
        if history.status != "running":
            break
        if history.epochs and (not live_reads or history.epochs != live_reads[-1].epochs):
            live_reads.append(history)
        time.sleep(0.05)
    # At least two reads while it ran, each further along, never repeating an epoch.
    assert len(live_reads) >= 2, f"the history never grew while running: {live_reads}"
    lasts = [epoch_numbers(read)[-1] for read in live_reads]
    assert lasts == sorted(lasts) and lasts[0] < lasts[-1]
    for read in live_reads:
        numbers = epoch_numbers(read)
        assert numbers == sorted(set(numbers)) and read.epochs_total == EPOCHS
        assert all(e.val_loss is not None for e in read.epochs)
    # since=N gives only the epochs after N.
    newer = client.get_training_history(op_id, since=lasts[0])
    assert all(n > lasts[0] for n in epoch_numbers(newer))

    op = finished_over_http(http, op_id)
    assert op["status"] == "completed", op["error_message"]
    done = client.get_training_history(op_id)
    assert done.status == "completed" and done.epochs_total == EPOCHS
    assert [e.model_dump() for e in done.epochs] == op["result_summary"]["history"]
    assert len(done.epochs) == EPOCHS
    # What was seen live agrees with the final history, epoch for epoch.
    by_epoch = {e.epoch: e for e in done.epochs}
    for read in live_reads:
        for epoch in read.epochs:
            assert by_epoch[epoch.epoch] == epoch
    tail = http.get(f"/training/{op_id}/history", params={"since": EPOCHS - 3}).json()["data"]
    assert [e["epoch"] for e in tail["epochs"]] == [EPOCHS - 2, EPOCHS - 1, EPOCHS]
    client.close()


def test_a_backtests_series_exact_and_downsampled_and_every_refusal(
    backend: LiveBackend, http: httpx.Client
) -> None:
    train = http.post("/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 5})
    train_id = train.json()["data"]["operation_id"]
    assert finished_over_http(http, train_id)["status"] == "completed"
    start = http.post("/backtests/start", json={"model": "rsi_mean_reversion"})
    backtest_id = start.json()["data"]["operation_id"]
    backtest = finished_over_http(http, backtest_id)
    assert backtest["status"] == "completed", backtest["error_message"]
    summary = backtest["result_summary"]
    detail = json.loads(Path(summary["detail_path"]).read_text())

    with backend.client() as client:
        series = client.get_backtest_series(backtest_id)
        assert series.bars == summary["bars"] <= 2_000 and not series.downsampled
        assert series.points == series.bars
        assert series.equity == detail["equity_curve"]["values"]
        assert series.timestamps == detail["equity_curve"]["timestamps"]
        assert series.buy_and_hold == detail["buy_and_hold_curve"]["values"]
        assert series.equity[-1] == summary["final_equity"]
        assert -min(series.drawdown) == pytest.approx(summary["metrics"]["max_drawdown"])
        assert max(series.drawdown) <= 0.0
        assert len(series.trades) == summary["trades_count"]
        assert series.metrics.sharpe_ratio == summary["metrics"]["sharpe_ratio"]
        assert series.benchmark.total_return == summary["benchmark"]["total_return"]
        assert series.symbol == summary["symbol"] and series.strategy_name == "rsi_mean_reversion"
        # Buy-and-hold ends where the benchmark's total return says it does.
        capital = series.initial_capital
        end = capital * (1 + summary["benchmark"]["total_return"])
        assert series.buy_and_hold[-1] == pytest.approx(end)

        small = client.get_backtest_series(backtest_id, max_points=40)
        assert small.downsampled and small.points <= 40 and small.bars == series.bars
        assert small.timestamps == sorted(small.timestamps)
        assert small.timestamps[0] == series.timestamps[0]
        assert small.timestamps[-1] == series.timestamps[-1]
        assert min(small.drawdown) == min(series.drawdown)
        assert max(small.equity) == max(series.equity)

        with pytest.raises(NotFoundApiError):
            client.get_training_history(UNKNOWN)
        with pytest.raises(ApiError) as wrong:
            client.get_backtest_series(train_id)
        assert wrong.value.status_code == 422 and wrong.value.code == "not_a_backtest"

    raw = http.get(f"/backtests/{backtest_id}/series").json()
    assert raw["success"] is True
    assert set(raw["data"]) == {
        "operation_id",
        "status",
        "symbol",
        "timeframe",
        "bars",
        "points",
        "downsampled",
        "initial_capital",
        "timestamps",
        "equity",
        "buy_and_hold",
        "drawdown",
        "trades",
        "metrics",
        "benchmark",
        "strategy_name",
    }
    assert set(raw["data"]["trades"][0]) == {
        "direction",
        "entry_time",
        "exit_time",
        "entry_price",
        "exit_price",
        "return",
        "bars_held",
    }

    for path in (f"/training/{UNKNOWN}/history", f"/backtests/{UNKNOWN}/series"):
        reply = http.get(path)
        assert reply.status_code == 404 and error_of(reply)["code"] == "operation_not_found"
    reply = http.get(f"/training/{backtest_id}/history")
    assert reply.status_code == 422 and error_of(reply)["code"] == "not_a_training"
    reply = http.get(f"/backtests/{train_id}/series")
    assert reply.status_code == 422 and error_of(reply)["code"] == "not_a_backtest"
    for bad in (1, 20_001, "many"):
        reply = http.get(f"/backtests/{backtest_id}/series", params={"max_points": bad})
        assert reply.status_code == 422, (bad, reply.text)
        error_of(reply)
    reply = http.get(f"/training/{train_id}/history", params={"since": -1})
    assert reply.status_code == 422
    error_of(reply)

    # A backtest that did not complete has no series: 409.
    again = http.post("/backtests/start", json={"model": "rsi_mean_reversion"})
    stopped_id = again.json()["data"]["operation_id"]
    assert http.delete(f"/operations/{stopped_id}").status_code == 200
    assert finished_over_http(http, stopped_id)["status"] == "cancelled"
    reply = http.get(f"/backtests/{stopped_id}/series")
    assert reply.status_code == 409
    assert error_of(reply)["code"] == "not_completed"
