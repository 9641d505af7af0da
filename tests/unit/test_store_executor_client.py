"""The SQLite store, the local executor and the HTTP client, each on its own."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ktrdr.client import (
    ApiError,
    BackendTimeoutError,
    BackendUnavailableError,
    KtrdrClient,
    NotFoundApiError,
)
from ktrdr.client.errors import ConflictApiError
from ktrdr.errors import JobFailedError
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.execution import LocalExecutor
from ktrdr.operations.models import Operation, OperationStatus, OperationType
from ktrdr.operations.progress import ProgressReporter
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore, SqliteOperationStore


def test_sqlite_round_trip_wal_and_version_guard(tmp_path: Path) -> None:
    path = tmp_path / "ops.db"
    store = SqliteOperationStore(path)
    op = Operation(operation_id="a", operation_type=OperationType.TRAINING, version=3)
    store.save_many([op])
    store.save_many([op.model_copy(update={"version": 2, "error_message": "stale"})])
    store.save_many([op.model_copy(update={"version": 4, "status": OperationStatus.RUNNING})])
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    again = SqliteOperationStore(path)
    (loaded,) = again.load_all()
    again.close()
    assert loaded.version == 4 and loaded.status is OperationStatus.RUNNING
    assert loaded.error_message is None  # the older version 2 never overwrote it


def _service() -> OperationsService:
    return OperationsService(InMemoryOperationStore(), flush_interval=0)


def _wait(service: OperationsService, op_id: str, seconds: float = 5) -> Operation:
    deadline = time.monotonic() + seconds
    while not service.get(op_id).is_terminal:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return service.get(op_id)


def test_executor_records_every_outcome() -> None:
    service = _service()
    executor = LocalExecutor(service)

    def ok(reporter: ProgressReporter, token: CancellationToken) -> dict[str, Any]:
        reporter.report(50, "half")
        return {"answer": 42}

    def stops(reporter: ProgressReporter, token: CancellationToken) -> dict[str, Any]:
        raise CancellationRequested(where="Epoch 2/9")

    def refuses(reporter: ProgressReporter, token: CancellationToken) -> dict[str, Any]:
        raise JobFailedError("too few rows")

    def crashes(reporter: ProgressReporter, token: CancellationToken) -> dict[str, Any]:
        raise ZeroDivisionError("division by zero")

    results = {}
    for name, job in (("ok", ok), ("stops", stops), ("refuses", refuses), ("crashes", crashes)):
        op = service.create(OperationType.TRAINING)
        executor.submit(op.operation_id, job)
        results[name] = _wait(service, op.operation_id)
    executor.shutdown()
    assert results["ok"].status is OperationStatus.COMPLETED
    assert results["ok"].result_summary == {"answer": 42}
    assert results["stops"].status is OperationStatus.CANCELLED
    assert (results["stops"].result_summary or {})["stopped_at"] == "Epoch 2/9"
    assert results["refuses"].error_message == "too few rows"
    assert results["crashes"].error_message == "ZeroDivisionError: division by zero"


def test_a_cancel_reaches_a_running_job_quickly() -> None:
    service = _service()
    executor = LocalExecutor(service)
    started = threading.Event()

    def loop(reporter: ProgressReporter, token: CancellationToken) -> dict[str, Any]:
        step = 0
        while True:
            step += 1
            started.set()
            token.raise_if_cancelled(where=f"Step {step}")
            time.sleep(0.001)

    op = service.create(OperationType.TRAINING)
    executor.submit(op.operation_id, loop)
    assert started.wait(2)
    sent = time.monotonic()
    service.cancel(op.operation_id)
    done = _wait(service, op.operation_id)
    assert time.monotonic() - sent < 1.0
    assert done.status is OperationStatus.CANCELLED
    assert (done.result_summary or {})["stopped_at"].startswith("Step ")
    executor.shutdown()


def _client(handler: Any) -> KtrdrClient:
    return KtrdrClient("http://ktrdr.test", transport=httpx.MockTransport(handler))


def _error(status: int, code: str) -> httpx.Response:
    return httpx.Response(
        status, json={"success": False, "error": {"code": code, "message": "m", "details": {}}}
    )


def test_client_decodes_envelopes_and_maps_errors() -> None:
    op = Operation(operation_id="x", operation_type=OperationType.TRAINING)

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/operations/x"):
            return httpx.Response(200, json={"success": True, "data": op.model_dump(mode="json")})
        if path.endswith("/operations/gone"):
            return _error(404, "operation_not_found")
        if path.endswith("/operations/done"):
            return _error(409, "operation_already_finished")
        if path.endswith("/operations/bad"):
            return _error(422, "validation_error")
        return httpx.Response(502, text="<html>bad gateway</html>")

    with _client(handler) as client:
        assert client.get_operation("x").operation_id == "x"
        with pytest.raises(NotFoundApiError) as missing:
            client.get_operation("gone")
        assert missing.value.code == "operation_not_found"
        with pytest.raises(ConflictApiError):
            client.cancel_operation("done")
        with pytest.raises(ApiError) as invalid:
            client.get_operation("bad")
        assert invalid.value.status_code == 422
        with pytest.raises(ApiError) as html:
            client.get_operation("other")
        assert html.value.code == "bad_response"


def test_client_transport_failures_are_connection_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with _client(refuse) as client, pytest.raises(BackendUnavailableError) as lost:
        client.health()
    assert lost.value.code == "connection_lost"
    with _client(slow) as client, pytest.raises(BackendTimeoutError):
        client.health()
