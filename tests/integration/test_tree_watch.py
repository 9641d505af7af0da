"""The operation tree in one request and changes pushed by long-polling, on a real backend.

A finished tree answers with an ETag and 304 for If-None-Match; a held request is woken by
the change itself and carries the significant changes since the version the reader gave,
so a reader sees every phase of a real research cycle in order; progress-only answers are
coalesced; a reader that hangs up leaves no watcher behind."""

from __future__ import annotations

import socket
import time
from datetime import datetime
from typing import Any

import httpx

from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend
from tests.support.waiting import finished_over_http, wait_until

TERMINAL = ("completed", "failed", "cancelled")


def tree(http: httpx.Client, op_id: str, **params: Any) -> httpx.Response:
    return http.get(f"/operations/{op_id}/tree", params=params)


def _watchers(http: httpx.Client) -> int:
    return int(http.get("/health").json()["data"]["watchers"])


def test_a_finished_tree_has_an_etag_and_304_when_unchanged(backend: LiveBackend) -> None:
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as http:
        op_id = http.post(
            "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 2}
        ).json()["data"]["operation_id"]
        finished_over_http(http, op_id, interval=0.1)
        first = tree(http, op_id)
        assert first.status_code == 200
        body = first.json()["data"]
        assert [o["operation_id"] for o in body["operations"]] == [op_id]
        assert body["version"] == sum(o["version"] for o in body["operations"])
        etag = first.headers["etag"]
        again = http.get(f"/operations/{op_id}/tree", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.headers["etag"] == etag
        # Waiting on a tree that can no longer change answers at once.
        started = time.monotonic()
        held = tree(http, op_id, since=body["version"], wait=10)
        assert time.monotonic() - started < 2 and held.status_code == 200
        missing = tree(http, "op_training_20200101_000000_00000000")
        assert missing.status_code == 404 and missing.json()["error"]["code"]


def test_a_reader_is_woken_by_each_change_and_sees_every_phase_in_order(
    backend: LiveBackend,
) -> None:
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=60) as http:
        cycle = http.post("/agent/trigger", json={"folds": 0, "seed": 4, "epochs": 150}).json()[
            "data"
        ]
        op_id = cycle["operation_id"]
        since, phases, children = 0, [], set()
        progress_answers: list[float] = []
        wake_delays: list[float] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            reply = tree(http, op_id, since=since, wait=20)
            received = time.time()
            if reply.status_code == 304:
                continue
            body = reply.json()["data"]
            assert body["version"] > since or since == 0
            assert body["complete"]
            for change in body["changes"]:
                assert change["tree_version"] > since
                if change["kind"] == "phase" and change["operation_id"] == op_id:
                    phases.append(change["value"])
                    at = datetime.fromisoformat(change["at"]).timestamp()
                    wake_delays.append(received - at)
                if change["kind"] == "created" and change["operation_id"] != op_id:
                    children.add(change["operation_id"])
            if not body["changes"]:
                progress_answers.append(received)
            since = body["version"]
            root = body["operations"][0]
            if root["status"] in TERMINAL:
                break
    assert root["status"] == "completed"
    assert phases == ["designing", "training", "backtesting", "assessing", "completed"]
    assert len(children) == 2  # the training and the backtest, each seen appearing
    assert sorted(wake_delays)[len(wake_delays) // 2] < 1.0, wake_delays
    # Progress-only answers are coalesced: never much more than ten a second.
    for first, later in zip(progress_answers, progress_answers[10:], strict=False):
        assert later - first >= 0.8, "more than ~10 progress answers in a second"


def test_a_reader_that_hangs_up_leaves_no_watcher(backend_factory: BackendFactory) -> None:
    backend = backend_factory(start=False)
    backend.env["KTRDR_WORKERS"] = "1"  # the second training waits, unchanging, in the queue
    backend.start()
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=60) as http:
        busy, queued = (
            http.post(
                "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 100_000}
            ).json()["data"]["operation_id"]
            for _ in range(2)
        )
        version = tree(http, queued).json()["data"]["version"]
        sockets = []
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", backend.port))
            sock.sendall(
                f"GET /api/v1/operations/{queued}/tree?since={version}&wait=30 HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{backend.port}\r\n\r\n".encode()
            )
            sockets.append(sock)
        assert wait_until(lambda: _watchers(http) >= 20, 10, 0.05), (
            "the held requests never registered"
        )
        for sock in sockets:  # the readers vanish mid-wait
            sock.close()
        assert wait_until(lambda: _watchers(http) == 0, 5, 0.05), (
            f"{_watchers(http)} watchers outlived their readers"
        )
        for op_id in (queued, busy):
            http.delete(f"/operations/{op_id}")
