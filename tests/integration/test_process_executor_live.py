"""A real backend with KTRDR_EXECUTOR=process: research cycles whose training and backtest
run in worker processes, cancelled across the process boundary, and job processes that do
not outlive a killed backend."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import httpx
import pytest

from ktrdr.contract.operations import OperationPublic
from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend
from tests.support.processes import descendants
from tests.support.waiting import wait_for_value, wait_until

TERMINAL = {"completed", "failed", "cancelled"}


@pytest.fixture
def process_backend(backend_factory: BackendFactory) -> LiveBackend:
    backend = backend_factory(start=False)
    backend.env["KTRDR_EXECUTOR"] = "process"
    return backend.start()


def _op(http: httpx.Client, op_id: str) -> OperationPublic:
    return OperationPublic.model_validate(http.get(f"/operations/{op_id}").json()["data"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _training_of(http: httpx.Client, cycle_id: str, epochs_done: int) -> str:
    training_id = wait_for_value(
        lambda: _op(http, cycle_id).metadata.parameters.get("training_op_id"),
        lambda found: (
            bool(found) and (_op(http, str(found)).progress.items_processed or 0) >= epochs_done
        ),
        30,
        "the training getting going",
        0.02,
    )
    return str(training_id)


def test_cycles_complete_and_cancel_within_a_second_with_process_workers(
    process_backend: LiveBackend,
) -> None:
    with httpx.Client(base_url=f"{process_backend.url}/api/v1", timeout=5) as http:
        assert http.get("/health").json()["data"]["executor"] == "process x2"

        cycle_id = http.post("/agent/trigger", json={"folds": 0, "seed": 21}).json()["data"][
            "operation_id"
        ]
        assert wait_until(lambda: _op(http, cycle_id).status.value in TERMINAL, 90, 0.05)
        done = _op(http, cycle_id)
        assert done.status.value == "completed", done.error_message
        summary = done.result_summary or {}
        assert math.isfinite(summary["sharpe_ratio"]) and summary["training"]["epochs"] > 0

        cycle_id = http.post(
            "/agent/trigger", json={"folds": 0, "seed": 22, "epochs": 5000}
        ).json()["data"]["operation_id"]
        training_id = _training_of(http, cycle_id, 5)
        sent = time.monotonic()
        assert http.delete(f"/operations/{cycle_id}").status_code == 200
        while time.monotonic() - sent < 1.0:
            if {_op(http, cycle_id).status.value, _op(http, training_id).status.value} == {
                "cancelled"
            }:
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - sent
        parent, child = _op(http, cycle_id), _op(http, training_id)
    assert parent.status.value == child.status.value == "cancelled", elapsed
    assert elapsed < 1.0
    assert (parent.result_summary or {})["stopped_at"].startswith("Training stopped at epoch ")


def test_job_processes_end_when_the_backend_is_killed(process_backend: LiveBackend) -> None:
    with httpx.Client(base_url=f"{process_backend.url}/api/v1", timeout=5) as http:
        started = http.post(
            "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 50000}
        )
        op_id = started.json()["data"]["operation_id"]
        assert wait_until(lambda: (_op(http, op_id).progress.items_processed or 0) >= 3, 30, 0.02)
        time.sleep(0.6)  # let the coalesced progress reach the file
    workers = set(descendants(process_backend.pid))
    assert workers, "no worker processes under the backend"

    process_backend.kill()
    wait_until(lambda: not any(_alive(pid) for pid in workers), 5, 0.05)
    assert not [pid for pid in workers if _alive(pid)], "job processes outlived the backend"

    process_backend.start()  # and the restart still says where the training was
    with httpx.Client(base_url=f"{process_backend.url}/api/v1", timeout=5) as http:
        op = _op(http, op_id)
    assert op.status.value == "failed" and "Epoch" in (op.error_message or "")
