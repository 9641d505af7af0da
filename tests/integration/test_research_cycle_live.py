"""A real research cycle through the HTTP API of a real backend on embedded defaults."""

from __future__ import annotations

import math
import time
from datetime import date, timedelta

import httpx

from ktrdr.agents.phases import PHASE_PROGRESS, Phase
from ktrdr.agents.phases.table import ORDERED_PHASES
from ktrdr.contract.operations import OperationPublic
from tests.support.live_backend import LiveBackend
from tests.support.waiting import wait_until

TERMINAL = {"completed", "failed", "cancelled"}


def _op(http: httpx.Client, op_id: str) -> OperationPublic:
    return OperationPublic.model_validate(http.get(f"/operations/{op_id}").json()["data"])


def test_a_cycle_runs_through_every_phase_with_the_table_percentages(
    backend: LiveBackend,
) -> None:
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        started = http.post("/agent/trigger", json={"folds": 0, "seed": 17})
        assert started.status_code == 202
        cycle_id = started.json()["data"]["operation_id"]

        seen: list[tuple[str, float]] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            op = _op(http, cycle_id)
            phase = str(op.metadata.parameters.get("phase"))
            if not seen or seen[-1][0] != phase:
                seen.append((phase, op.progress.percentage))
            if op.status.value in TERMINAL:
                break
            time.sleep(0.01)
        final = _op(http, cycle_id)

    assert final.status.value == "completed", final.error_message
    order = [p.value for p in ORDERED_PHASES]
    ranks = [order.index(phase) for phase, _ in seen]
    assert ranks == sorted(ranks), f"phases out of order: {seen}"
    for phase, pct in seen:
        if phase != "completed":
            assert pct == PHASE_PROGRESS[Phase(phase)], (phase, pct)
    assert seen[-1] == ("completed", 100.0)
    assert "training" in [p for p, _ in seen], seen

    summary = final.result_summary or {}
    for key in ("sharpe_ratio", "win_rate", "max_drawdown", "total_return"):
        assert isinstance(summary[key], float) and math.isfinite(summary[key]), key
    assert summary["verdict"] in ("promising", "neutral", "poor")
    assert summary["reasons"]
    bench = summary["benchmark"]
    assert math.isfinite(bench["sharpe_ratio"]) and math.isfinite(bench["total_return"])
    assert any("buy-and-hold on the same bars" in reason for reason in summary["reasons"])
    assert summary["training"]["epochs"] == summary["training"]["epochs_total"] > 0
    params = final.metadata.parameters
    children = {c.operation_id: c for c in final.children}
    assert children[params["training_op_id"]].operation_type.value == "training"
    assert children[params["backtest_op_id"]].operation_type.value == "backtesting"
    assert all(c.status.value == "completed" for c in children.values())


def test_second_trigger_conflicts_and_cancel_during_training_ends_both_within_a_second(
    backend: LiveBackend,
) -> None:
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        cycle_id = http.post("/agent/trigger", json={"folds": 0, "seed": 3, "epochs": 5000}).json()[
            "data"
        ]["operation_id"]
        second = http.post("/agent/trigger", json={"folds": 0})
        assert second.status_code == 409
        error = second.json()["error"]
        assert error["code"] == "cycle_already_active"
        assert error["details"]["active_operation_id"] == cycle_id

        deadline = time.monotonic() + 30
        training_id = None
        while time.monotonic() < deadline:
            op = _op(http, cycle_id)
            training_id = op.metadata.parameters.get("training_op_id")
            if training_id and (_op(http, training_id).progress.items_processed or 0) >= 5:
                break
            time.sleep(0.02)
        assert training_id, "training never started"

        status = http.get("/agent/status").json()["data"]
        assert status["active"] is True
        assert status["phase"] == "training"
        assert status["child"]["operation_id"] == training_id

        sent = time.monotonic()
        assert http.delete(f"/operations/{cycle_id}").status_code == 200
        while time.monotonic() - sent < 1.0:
            parent, child = _op(http, cycle_id), _op(http, training_id)
            if parent.status.value == "cancelled" and child.status.value == "cancelled":
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - sent
        parent, child = _op(http, cycle_id), _op(http, training_id)

    assert parent.status.value == "cancelled" and child.status.value == "cancelled", elapsed
    assert elapsed < 1.0
    stopped = (parent.result_summary or {})["stopped_at"]
    assert stopped.startswith("Training stopped at epoch ") and stopped.endswith("/5,000")
    assert (child.result_summary or {})["stopped_at"].startswith("Epoch ")
    assert parent.metadata.parameters["phase"] == "cancelled"
    assert 0 < parent.progress.percentage < 100


def test_llm_model_without_a_key_is_a_clear_client_error(backend: LiveBackend) -> None:
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        reply = http.post("/agent/trigger", json={"folds": 0, "model": "haiku"})
        assert reply.status_code == 400
        assert reply.json()["error"]["code"] == "configuration_error"
        assert "ANTHROPIC_API_KEY" in reply.json()["error"]["message"]
        bad = http.post("/agent/trigger", json={"folds": 0, "model": "gpt"})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"]["errors"][0]["field"] == "model"
        # Nothing was started by the refused requests.
        assert http.get("/operations").json()["data"] == []


def test_a_cycle_on_an_imported_intraday_series_fits_its_window_and_bad_series_are_422(
    backend: LiveBackend,
) -> None:
    from ktrdr.data.market import MarketData

    # Real SP500 prices, re-stamped as 7 hourly bars a day from 2022: nothing of it falls in
    # the designed default window (train through 2013, test from 2014).
    real = MarketData(backend.root / "scratch").load("SP500").slice(0, 1_400)
    lines = ["timestamp,open,high,low,close,volume"]
    for n in range(len(real)):
        day, hour = divmod(n, 7)
        stamp = f"{date(2022, 3, 1) + timedelta(days=day)} {9 + hour:02d}:00"
        lines.append(
            f"{stamp},{real.open[n]},{real.high[n]},{real.low[n]},{real.close[n]},{real.volume[n]}"
        )
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
        imported = http.post(
            "/data/import",
            json={"symbol": "sph", "timeframe": "1h", "csv_text": "\n".join(lines) + "\n"},
        )
        assert imported.status_code == 201, imported.text

        for body, field in (
            ({"symbol": "NOPE"}, "symbol"),
            ({"symbol": "SPH", "timeframe": "1d"}, "timeframe"),
            ({"timeframe": "4h"}, "timeframe"),
        ):
            refused = http.post("/agent/trigger", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.json()["error"]["details"]["field"] == field
        assert (
            http.get("/operations", params={"operation_type": "agent_research"}).json()["total"]
            == 0
        )  # refused before anything was created

        cycle_id = http.post(
            "/agent/trigger", json={"folds": 0, "seed": 3, "symbol": "sph", "timeframe": "1h"}
        ).json()["data"]["operation_id"]
        assert wait_until(lambda: _op(http, cycle_id).status.value in TERMINAL, 90, 0.05)
        final = _op(http, cycle_id)
        assert final.status.value == "completed", final.error_message
        backtest = _op(http, str(final.metadata.parameters["backtest_op_id"]))

    params = final.metadata.parameters
    train_end = date.fromisoformat(str(params["train_end"]))
    assert date(2022, 3, 1) < train_end < date(2022, 3, 1) + timedelta(days=200)
    assert params["test_start"] == (train_end + timedelta(days=1)).isoformat()
    summary = final.result_summary or {}
    assert math.isfinite(summary["sharpe_ratio"]) and summary["verdict"] in (
        "promising",
        "neutral",
        "poor",
    )
    # The backtest ran on the imported series, strictly after the training window.
    assert backtest.metadata.parameters["symbol"] == "SPH"
    bars_tested = backtest.progress.items_total or 0
    assert 350 <= bars_tested <= 1_400 - 300, bars_tested
