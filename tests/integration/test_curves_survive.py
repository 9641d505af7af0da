"""Issue 21, item 3, through real backends on loopback: a training's learning curve
survives a kill -9 of the backend (a real ``ktrdr server start`` subprocess, its own data
dir), and ``max_points`` bounds what ``GET /training/{id}/history`` sends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from ktrdr.jobs.pictures import HISTORY_MIN_POINTS
from ktrdr.records.models import OperationType
from ktrdr.records.results import EpochFigures, TrainingSummary
from ktrdr.storage.curves import SUFFIX
from tests.conftest import BackendFactory
from tests.support.served import served_in_process
from tests.support.waiting import wait_for_value

# Epochs reported this long before the kill must all come back (the flush interval is 0.5 s).
BEFORE_THE_KILL = 1.0


def history(http: httpx.Client, op_id: str, **params: Any) -> dict[str, Any]:
    reply = http.get(f"/training/{op_id}/history", params=params)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


def test_epochs_reported_a_second_before_a_kill_9_are_served_after_the_restart(
    backend_factory: BackendFactory,
) -> None:
    """Item 3: the curve of a training cut short by a kill -9 survives the restart."""
    backend = backend_factory()
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
        started = http.post(
            "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 100_000}
        )
        assert started.status_code == 202, started.text
        op_id = started.json()["data"]["operation_id"]
        seen = wait_for_value(
            lambda: history(http, op_id),
            lambda data: len(data["epochs"]) >= 40,
            timeout=120,
            what="40 epochs",
            interval=0.05,
        )
        time.sleep(BEFORE_THE_KILL)
    backend.kill()
    backend.start()

    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
        after = history(http, op_id)
        assert after["status"] == "failed"  # interrupted by the crash
        assert after["epochs_total"] == 100_000  # the planned budget, from its parameters
        by_epoch = {row["epoch"]: row for row in after["epochs"]}
        missing = [row["epoch"] for row in seen["epochs"] if row["epoch"] not in by_epoch]
        assert missing == [], f"{len(missing)} epochs seen before the kill were lost"
        assert all(by_epoch[row["epoch"]] == row for row in seen["epochs"])  # same figures
        numbers = [row["epoch"] for row in after["epochs"]]
        assert numbers == sorted(set(numbers))

        thinned = history(http, op_id, max_points=HISTORY_MIN_POINTS)
        assert len(thinned["epochs"]) <= HISTORY_MIN_POINTS
        assert thinned["epochs"][0]["epoch"] == numbers[0]
        assert thinned["epochs"][-1]["epoch"] == numbers[-1]

    curve = backend.data_dir / "curves" / f"{op_id}{SUFFIX}"
    assert curve.stat().st_size < 64 + 40 * len(numbers)  # one header, 40 bytes an epoch


def test_max_points_bounds_the_answer_and_refuses_bad_values(tmp_path: Path) -> None:
    """Item 3 (max_points): a 30,000-epoch history thinned to 2,000 points, bounded with a
    422 in the API's error body outside [HISTORY_MIN_POINTS, 20,000]."""
    with served_in_process(tmp_path / "data") as served:
        service = served.service
        op = service.create(OperationType.TRAINING, parameters={"epochs": 30_000})
        service.start(op.operation_id)
        rows = tuple(
            EpochFigures(
                epoch=n,
                train_loss=1.0 / n,
                val_loss=1.5 / n + (n % 97) / 1e4,
                train_accuracy=0.5 + n / 1e5,
                val_accuracy=0.4 + n / 1e5,
            )
            for n in range(1, 30_001)
        )
        service.complete(
            op.operation_id, TrainingSummary(epochs_total=30_000, history=rows).to_dict()
        )
        with httpx.Client(base_url=served.api, timeout=30) as http:
            url = f"/training/{op.operation_id}/history"
            whole = http.get(url)
            small = http.get(url, params={"max_points": 2_000})
            assert whole.status_code == small.status_code == 200
            assert len(whole.json()["data"]["epochs"]) == 30_000
            kept = small.json()["data"]["epochs"]
            assert len(kept) <= 2_000 and kept[0]["epoch"] == 1 and kept[-1]["epoch"] == 30_000
            assert len(small.content) * 10 < len(whole.content)
            for bad in (0, HISTORY_MIN_POINTS - 1, 20_001, -3, "many", 10**30):
                reply = http.get(url, params={"max_points": bad})
                assert reply.status_code == 422, (bad, reply.text)
                body = reply.json()
                assert body["success"] is False and set(body["error"]) == {
                    "code",
                    "message",
                    "details",
                }
            edge = http.get(url, params={"max_points": HISTORY_MIN_POINTS})
            assert edge.status_code == 200
            assert len(edge.json()["data"]["epochs"]) <= HISTORY_MIN_POINTS
