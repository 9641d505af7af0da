"""Cancelling a walk-forward cycle mid-fold, on a real backend: every child (running in a
worker process or on a Dask LocalCluster, or still waiting its turn) ends within a second,
and the cycle says where its work stopped."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend

TERMINAL = {"completed", "failed", "cancelled"}
# Long trainings, so they are surely mid-fold when the cancel comes.
BODY = {"seed": 31, "folds": 3, "candidates": 2, "epochs": 20000, "patience": 0}


def _backend(backend_factory: BackendFactory, executor: str) -> LiveBackend:
    backend = backend_factory(start=False)
    backend.env["KTRDR_EXECUTOR"] = executor
    backend.env["KTRDR_WORKERS"] = "2"
    if executor == "dask":
        backend.env["KTRDR_DASK_SCHEDULER"] = "local:2"
    return backend.start()


def _children(http: httpx.Client, cycle_id: str) -> list[dict[str, object]]:
    tree = http.get(f"/operations/{cycle_id}/tree").json()["data"]
    return [o for o in tree["operations"] if o["operation_id"] != cycle_id]


def _cancel_mid_fold(backend: LiveBackend) -> None:
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
        started = http.post("/agent/trigger", json=BODY)
        assert started.status_code == 202, started.text
        cycle_id = started.json()["data"]["operation_id"]
        deadline = time.monotonic() + 60
        while True:  # two folds training at once, past their first epochs
            running = [
                c
                for c in _children(http, cycle_id)
                if c["status"] == "running" and (c["progress"]["items_processed"] or 0) >= 2  # type: ignore[index]
            ]
            if len(running) >= 2:
                break
            assert time.monotonic() < deadline, "the folds never got going"
            time.sleep(0.05)
        children = _children(http, cycle_id)
        assert any(c["status"] == "pending" for c in children), "others wait their turn"

        sent = time.monotonic()
        assert http.delete(f"/operations/{cycle_id}").status_code == 200
        while time.monotonic() - sent < 5:
            statuses = {c["status"] for c in _children(http, cycle_id)}
            cycle = http.get(f"/operations/{cycle_id}").json()["data"]
            if statuses <= TERMINAL and cycle["status"] in TERMINAL:
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - sent
        children = _children(http, cycle_id)
        cycle = http.get(f"/operations/{cycle_id}").json()["data"]

    assert cycle["status"] == "cancelled"
    assert {c["status"] for c in children} == {"cancelled"}, [c["status"] for c in children]
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    stopped = cycle["result_summary"]["stopped_at"]
    assert stopped.startswith("Stopped while training: 0 of 8 models trained"), stopped
    forced = [c for c in children if dict(c.get("result_summary") or {}).get("forced")]  # type: ignore[call-overload]
    assert not forced, "every worker acknowledged its cancel in time"


def test_cancel_mid_fold_ends_every_child_within_a_second_on_worker_processes(
    backend_factory: BackendFactory,
) -> None:
    _cancel_mid_fold(_backend(backend_factory, "process"))


@pytest.mark.slow
def test_cancel_mid_fold_ends_every_child_within_a_second_on_a_local_cluster(
    backend_factory: BackendFactory,
) -> None:
    pytest.importorskip("distributed")
    _cancel_mid_fold(_backend(backend_factory, "dask"))
