"""What a held long-poll costs, on a real backend: a change wakes a waiting reader at once,
and a hundred readers waiting on work that does not move cost the backend no CPU.

The work is made to stand still for real: a training runs in the process executor and its
worker processes are stopped with SIGSTOP, so the backend itself has nothing to do but hold
the requests. A second training waits in the queue behind it; cancelling that one is the
change that wakes its readers."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest

from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend
from tests.support.processes import cpu_seconds, descendants
from tests.support.waiting import wait_until

LONG_TRAINING = {"strategy": "rsi_mean_reversion", "epochs": 100_000}
WINDOW = 5.0  # seconds of CPU measured, idle and then with the readers held


@pytest.fixture
def frozen_backend(backend_factory: BackendFactory) -> Iterator[tuple[LiveBackend, str]]:
    """A backend whose one job slot holds a training that makes no progress (its processes
    are stopped); yields the backend and that training's id."""
    backend = backend_factory(start=False)
    backend.env["KTRDR_EXECUTOR"] = "process"
    backend.env["KTRDR_WORKERS"] = "1"
    backend.start()
    stopped: list[int] = []
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as http:
        busy = http.post("/training/start", json=LONG_TRAINING).json()["data"]["operation_id"]
        assert wait_until(
            lambda: http.get(f"/operations/{busy}").json()["data"]["progress"]["percentage"] > 0,
            60,
            0.1,
        ), "the training never reported progress"
        stopped = descendants(backend.pid)
        assert stopped, "the process executor started no worker process"
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield backend, busy
        finally:
            for pid in stopped:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            http.delete(f"/operations/{busy}")


def _hold(port: int, op_id: str, since: int, wait: float) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"GET /api/v1/operations/{op_id}/tree?since={since}&wait={wait} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n\r\n".encode()
    )
    return sock


def _wait_for_change(url: str, op_id: str, since: int) -> tuple[httpx.Response, float]:
    """A held tree read; returns the answer and the wall-clock time it arrived."""
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as reader:
        reply = reader.get(f"/operations/{op_id}/tree", params={"since": since, "wait": 20})
        return reply, time.time()


def _watchers(http: httpx.Client) -> int:
    return int(http.get("/health").json()["data"]["watchers"])


def test_a_status_change_wakes_a_waiting_reader_within_50_ms(
    frozen_backend: tuple[LiveBackend, str],
) -> None:
    backend, _ = frozen_backend
    delays = []
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as http:
        for _ in range(7):
            queued = http.post("/training/start", json=LONG_TRAINING).json()["data"]
            op_id = queued["operation_id"]
            version = http.get(f"/operations/{op_id}/tree").json()["data"]["version"]
            with ThreadPoolExecutor(1) as pool:
                answer = pool.submit(_wait_for_change, backend.url, op_id, version)
                assert wait_until(lambda: _watchers(http) >= 1, 5), (
                    "the reader never started waiting"
                )
                assert http.delete(f"/operations/{op_id}").status_code == 200
                reply, received = answer.result(timeout=10)
            assert reply.status_code == 200
            changes = reply.json()["data"]["changes"]
            status = [c for c in changes if c["kind"] == "status" and c["value"] == "cancelled"]
            assert status, changes
            delays.append(received - datetime.fromisoformat(status[0]["at"]).timestamp())
    assert statistics.median(delays) < 0.050, delays


def test_a_hundred_idle_readers_cost_no_cpu(frozen_backend: tuple[LiveBackend, str]) -> None:
    backend, busy = frozen_backend
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as http:
        version = http.get(f"/operations/{busy}/tree").json()["data"]["version"]
        idle_start = cpu_seconds(backend.pid)
        time.sleep(WINDOW)
        idle = cpu_seconds(backend.pid) - idle_start

        readers = [_hold(backend.port, busy, version, 55) for _ in range(100)]
        try:
            assert wait_until(lambda: _watchers(http) >= 100, 20, 0.1), (
                f"only {_watchers(http)} readers waiting"
            )
            held_start = cpu_seconds(backend.pid)
            time.sleep(WINDOW)
            held = cpu_seconds(backend.pid) - held_start
            assert _watchers(http) == 100, "a reader was answered though nothing changed"
        finally:
            for sock in readers:
                sock.close()
    # Near idle: the held requests add under 2 % of a core over the window.
    assert held < idle + 0.02 * WINDOW, f"idle {idle:.2f} s CPU, with 100 readers {held:.2f} s"
