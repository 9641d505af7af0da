"""Training and backtest operations through the HTTP API of a real backend."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx

from tests.support.live_backend import LiveBackend
from tests.support.waiting import finished_over_http


def test_training_reports_every_epoch_then_a_backtest_gives_finite_metrics(
    backend: LiveBackend,
) -> None:
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        reply = http.post("/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 40})
        assert reply.status_code == 202
        train_id = reply.json()["data"]["operation_id"]
        epochs_seen: list[int] = []
        while True:
            op = http.get(f"/operations/{train_id}").json()["data"]
            done = op["progress"]["items_processed"]
            if done and (not epochs_seen or epochs_seen[-1] != done):
                epochs_seen.append(done)
                assert op["progress"]["current_step"] == f"Epoch {done}/40"
                assert op["progress"]["items_total"] == 40
                assert {"train_loss", "val_accuracy"} <= set(op["progress"]["context"])
            if op["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.005)
        training = finished_over_http(http, train_id, 60)
        assert training["status"] == "completed", training["error_message"]
        assert epochs_seen == sorted(epochs_seen)
        assert training["progress"]["percentage"] == 100.0
        summary = training["result_summary"]
        assert summary["epochs_completed"] == 40
        assert summary["model_path"].startswith(str(backend.data_dir / "models"))

        reply = http.post("/backtests/start", json={"model": "rsi_mean_reversion"})
        assert reply.status_code == 202, reply.text
        backtest = finished_over_http(http, reply.json()["data"]["operation_id"], 60)
        assert backtest["status"] == "completed", backtest["error_message"]
        metrics = backtest["result_summary"]["metrics"]
        for key in ("total_return", "sharpe_ratio", "sortino_ratio", "max_drawdown", "win_rate"):
            assert math.isfinite(metrics[key]), key
        assert backtest["result_summary"]["start"] >= "2014-01-01"
        assert backtest["progress"]["current_step"].startswith("Bar ")


def test_cancelling_a_training_stops_within_a_second_and_records_the_epoch(
    backend: LiveBackend,
) -> None:
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        train_id = http.post(
            "/training/start", json={"strategy": "trend_momentum", "epochs": 20000}
        ).json()["data"]["operation_id"]
        while (
            http.get(f"/operations/{train_id}").json()["data"]["progress"].get("items_processed")
            or 0
        ) < 3:
            time.sleep(0.01)
        sent = time.monotonic()
        http.delete(f"/operations/{train_id}")
        op = finished_over_http(http, train_id, 5)
        elapsed = time.monotonic() - sent
        assert op["status"] == "cancelled"
        assert elapsed < 1.0
        assert op["result_summary"]["stopped_at"].startswith("Epoch ")
        assert op["result_summary"]["stopped_at"].endswith("/20,000")
        again = http.delete(f"/operations/{train_id}")
        assert again.status_code == 200  # idempotent on a cancelled operation


def test_bad_start_requests_are_422_with_the_field_named(backend: LiveBackend) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/training/start", {"strategy": "rsi_mean_reversion", "epochs": 0}, "epochs"),
        ("/training/start", {"strategy": "no_such_strategy"}, "strategy"),
        ("/training/start", {"strategy": "rsi_mean_reversion", "symbol": "NOPE"}, "symbol"),
        ("/training/start", {}, "strategy"),
        ("/training/start", {"strategy": "rsi_mean_reversion", "bogus": 1}, "bogus"),
        ("/backtests/start", {"model": "never_trained"}, "model"),
        ("/backtests/start", {}, "model"),
    ]
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        for path, body, field in cases:
            reply = http.post(path, json=body)
            assert reply.status_code == 422, (body, reply.text)
            error = reply.json()["error"]
            named = [e["field"] for e in error["details"].get("errors", [])]
            named.append(str(error["details"].get("field", "")))
            assert any(field in n for n in named) or field in error["message"], (body, error)
        assert http.get("/operations").json()["data"] == []
