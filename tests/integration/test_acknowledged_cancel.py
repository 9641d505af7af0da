"""A cancel the API acknowledged, on a real backend: killed (SIGKILL) before the worker
stopped, the restart ends the work CANCELLED, its open children too, and a follower exits 3.
With a full disk the cancel cannot be kept: the DELETE answer and `ktrdr ops cancel` say so."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.conftest import BackendFactory
from tests.integration.test_hardening_storage import MiB, start_with_a_full_disk
from tests.support.live_backend import LiveBackend, run_ktrdr
from tests.support.processes import job_processes
from tests.support.waiting import wait_until

EXIT_CANCELLED_ELSEWHERE = 3


@contextmanager
def _api(backend: LiveBackend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
        yield http


def _operation(http: httpx.Client, op_id: str) -> dict[str, Any]:
    data: dict[str, Any] = http.get(f"/operations/{op_id}").json()["data"]
    return data


def _training_under_way(http: httpx.Client, op_id: str) -> bool:
    op = _operation(http, op_id)
    return op["status"] == "running" and int(op["progress"]["items_processed"] or 0) >= 2


def _freeze_jobs(backend: LiveBackend) -> set[int]:
    """SIGSTOP every job process: the work can no longer acknowledge a cancel."""
    frozen = job_processes(backend.pid)
    assert frozen, "no job process found"
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    return frozen


def _kill_all(backend: LiveBackend, jobs: set[int]) -> None:
    backend.kill()
    for pid in jobs:  # a stopped orphan cannot notice its backend is gone
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_cancel_answered_before_a_kill_comes_back_cancelled_and_a_follower_exits_3(
    backend: LiveBackend,
) -> None:
    """Item 2 (issue 21): DELETE answered, kill -9 before the worker stopped: CANCELLED."""
    with _api(backend) as http:
        started = http.post(
            "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 50000}
        )
        op_id = started.json()["data"]["operation_id"]
        assert wait_until(lambda: _training_under_way(http, op_id), 60, 0.02), backend.log_tail()
        jobs = _freeze_jobs(backend)
        answer = http.delete(f"/operations/{op_id}")
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        assert data["cancel_requested"] is True and data["status"] == "running"
        assert data["durable"] is True and data["warning"] is None
    _kill_all(backend, jobs)  # well within the 3 s grace: nothing forced the cancel

    backend.start()
    with _api(backend) as http:
        op = _operation(http, op_id)
    assert op["status"] == "cancelled", op
    assert op["error_message"] is None
    assert "restart" in op["result_summary"]["reason"]
    followed = run_ktrdr(backend.env, "ops", "follow", op_id, "--plain", timeout=60)
    assert followed.returncode == EXIT_CANCELLED_ELSEWHERE, (followed.stdout, followed.stderr)


def test_a_cancelled_cycles_open_children_come_back_cancelled(backend: LiveBackend) -> None:
    """Item 2 (issue 21): a research cycle's open training child follows the cycle's cancel."""
    with _api(backend) as http:
        started = http.post("/agent/trigger", json={"seed": 5, "folds": 0, "epochs": 50000})
        assert started.status_code == 202, started.text
        cycle_id = started.json()["data"]["operation_id"]

        def training_child() -> str | None:
            children = _operation(http, cycle_id)["children"]
            ids = [c["operation_id"] for c in children if c["operation_type"] == "training"]
            return ids[0] if ids and _training_under_way(http, ids[0]) else None

        assert wait_until(lambda: training_child() is not None, 120, 0.05), backend.log_tail()
        child_id = training_child()
        assert child_id is not None
        jobs = _freeze_jobs(backend)
        assert http.delete(f"/operations/{cycle_id}").status_code == 200
        # The cycle itself may acknowledge at once; the frozen training cannot.
        assert _operation(http, child_id)["status"] == "running"
    _kill_all(backend, jobs)

    backend.start()
    with _api(backend) as http:
        assert _operation(http, cycle_id)["status"] == "cancelled"
        child = _operation(http, child_id)
    assert child["status"] == "cancelled", child


def test_a_cancel_a_full_disk_cannot_keep_says_so(backend_factory: BackendFactory) -> None:
    """Item 2 (issue 21): a full disk: DELETE answers durable false, the CLI says one line."""
    backend = backend_factory(start=False)
    undo = start_with_a_full_disk(backend, "tmpfs")  # skips where it cannot mount
    try:
        with _api(backend) as http:
            started = http.post(
                "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 50000}
            )
            op_id = started.json()["data"]["operation_id"]
            assert wait_until(lambda: _training_under_way(http, op_id), 60, 0.02)
            jobs = _freeze_jobs(backend)
            with (backend.data_dir / "filler").open("wb", buffering=0) as out:
                try:
                    while True:
                        out.write(b"\0" * MiB)
                except OSError:
                    pass  # the filesystem is full now
            answer = http.delete(f"/operations/{op_id}")
            assert answer.status_code == 200, answer.text
            data = answer.json()["data"]
            assert data["cancel_requested"] is True
            assert data["durable"] is False
            assert "not saved" in data["warning"], data

        cancelled = run_ktrdr(backend.env, "ops", "cancel", op_id)
        assert cancelled.returncode == 0, cancelled.stderr
        assert cancelled.stdout.strip().startswith(f"{op_id}: cancel"), cancelled.stdout
        warning = cancelled.stderr.splitlines()
        assert len(warning) == 1, cancelled.stderr
        assert warning[0].startswith("Warning: ") and "not saved" in warning[0], warning
        as_json = run_ktrdr(backend.env, "ops", "cancel", op_id, "--json")
        assert '"durable": false' in as_json.stdout, as_json.stdout
        for pid in jobs:
            os.kill(pid, signal.SIGCONT)
    finally:
        undo()
