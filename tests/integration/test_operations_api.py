"""The operations API over real HTTP: a uvicorn subprocess on loopback, a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ktrdr.client import NotFoundApiError
from ktrdr.client.errors import ConflictApiError
from ktrdr.operations.recovery import RESTART_MESSAGE
from ktrdr.records.models import OperationStatus, OperationType
from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend
from tests.support.progress import progress

API = "/api/v1"


@dataclass(frozen=True)
class Seeded:
    completed: str
    failed: str
    parent: str
    child: str
    pending: str


def seed(backend: LiveBackend) -> Seeded:
    """Write operations straight into the backend's SQLite file while it is stopped:
    one of each end, plus a running parent with a running child and a pending job."""
    with backend.offline_service() as service:
        completed = service.create(OperationType.TRAINING, parameters={"epochs": 3})
        service.start(completed.operation_id)
        progress(service, completed.operation_id, 80, "Epoch 3/3")
        service.complete(completed.operation_id, {"accuracy": 0.58})

        failed = service.create(OperationType.BACKTESTING)
        service.start(failed.operation_id)
        service.fail(failed.operation_id, "No model found for strategy 'x'")

        parent = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "training"})
        service.start(parent.operation_id)
        progress(service, parent.operation_id, 35, "Training")
        child = service.create(OperationType.TRAINING, parent_operation_id=parent.operation_id)
        service.start(child.operation_id)
        progress(service, child.operation_id, 42, "Epoch 42/100")

        pending = service.create(OperationType.BACKTESTING)
        return Seeded(
            completed.operation_id,
            failed.operation_id,
            parent.operation_id,
            child.operation_id,
            pending.operation_id,
        )


def db_statuses(backend: LiveBackend) -> dict[str, str]:
    """What the file itself says, read without running any recovery. A running backend
    holds its file exclusively: it is stopped for the read and started again after."""
    was_running = backend.running
    if was_running:
        backend.stop()
    uri = f"file:{backend.db_path}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        rows = conn.execute("SELECT operation_id, status FROM operations").fetchall()
    if was_running:
        backend.start()
    return {str(op_id): str(status) for op_id, status in rows}


def get_json(http: httpx.Client, path: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = http.get(path, params=params)
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body, dict)
    return response.status_code, body


def assert_error(status: int, body: dict[str, Any], want_status: int, code: str) -> None:
    assert status == want_status, body
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


# Tests that only read share one backend per module (a start costs about a second);
# tests that stop, kill or restart a backend get their own from ``backend_factory``.


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBackend]:
    backend = LiveBackend(tmp_path_factory.mktemp("fresh"))
    try:
        yield backend.start()
    finally:
        backend.kill()


@pytest.fixture(scope="module")
def shared_seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveBackend, Seeded]]:
    backend = LiveBackend(tmp_path_factory.mktemp("seeded"))
    try:
        ids = seed(backend)
        yield backend.start(), ids
    finally:
        backend.kill()


@pytest.fixture
def seeded_backend(backend_factory: BackendFactory) -> tuple[LiveBackend, Seeded]:
    backend = backend_factory(start=False)
    ids = seed(backend)
    backend.start()
    return backend, ids


def test_health_answers_in_the_envelope(fresh: LiveBackend) -> None:
    backend = fresh
    with httpx.Client(base_url=backend.url, timeout=10) as http:
        status, body = get_json(http, f"{API}/health")
    assert status == 200 and body["success"] is True
    data = body["data"]
    assert data["service"] == "ktrdr" and data["status"] == "ok"
    assert data["pid"] == backend.pid
    assert data["store"] == f"sqlite:{backend.db_path}"
    assert data["active_operations"] == 0
    assert backend.db_path.is_file()
    with backend.client() as client:
        assert client.health().pid == backend.pid


def test_a_fresh_backend_lists_nothing(fresh: LiveBackend) -> None:
    backend = fresh
    with httpx.Client(base_url=backend.url, timeout=10) as http:
        status, body = get_json(http, f"{API}/operations")
    assert status == 200
    assert body == {"success": True, "data": [], "total": 0, "limit": 100, "offset": 0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"operation_type": "bogus"}, "operation_type"),
        ({"limit": "0"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_filters_are_422_naming_the_field(
    fresh: LiveBackend, params: dict[str, str], field: str
) -> None:
    backend = fresh
    with httpx.Client(base_url=backend.url, timeout=10) as http:
        status, body = get_json(http, f"{API}/operations", **params)
    assert_error(status, body, 422, "validation_error")
    assert [e["field"] for e in body["error"]["details"]["errors"]] == [field]
    assert field in body["error"]["message"]


def test_unknown_ids_and_routes_are_json_404s(fresh: LiveBackend) -> None:
    backend = fresh
    with httpx.Client(base_url=backend.url, timeout=10) as http:
        status, body = get_json(http, f"{API}/operations/op_missing")
        assert_error(status, body, 404, "operation_not_found")
        assert body["error"]["details"] == {"operation_id": "op_missing"}
        assert "op_missing" in body["error"]["message"]

        deleted = http.delete(f"{API}/operations/op_missing")
        assert_error(deleted.status_code, deleted.json(), 404, "operation_not_found")

        status, body = get_json(http, f"{API}/no/such/route")
        assert_error(status, body, 404, "not_found")
        # "/" is the web page now (tests/integration/test_web_routes.py); any other
        # address outside the API is still a JSON 404.
        status, body = get_json(http, "/no-such-page")
        assert_error(status, body, 404, "not_found")

        wrong_method = http.put(f"{API}/operations", json={})
        assert wrong_method.headers["content-type"].startswith("application/json")
        assert_error(wrong_method.status_code, wrong_method.json(), 405, "method_not_allowed")

    with backend.client() as client, pytest.raises(NotFoundApiError) as info:
        client.get_operation("op_missing")
    assert info.value.code == "operation_not_found"


def test_docs_and_openapi_are_served(fresh: LiveBackend) -> None:
    backend = fresh
    with httpx.Client(base_url=backend.url, timeout=10) as http:
        docs = http.get("/docs")
        assert docs.status_code == 200
        assert docs.headers["content-type"].startswith("text/html")
        assert "swagger" in docs.text.lower()
        status, spec = get_json(http, "/openapi.json")
    assert status == 200
    assert spec["info"]["title"] == "ktrdr"
    paths = spec["paths"]
    assert {"get", "delete"} <= set(paths[f"{API}/operations/{{operation_id}}"])
    assert "get" in paths[f"{API}/operations"]
    assert "get" in paths[f"{API}/health"]


def test_a_restart_fails_what_was_left_running_and_keeps_the_rest(
    shared_seeded: tuple[LiveBackend, Seeded],
) -> None:
    backend, ids = shared_seeded
    with backend.client() as client:
        for op_id in (ids.parent, ids.child, ids.pending):
            op = client.get_operation(op_id)
            assert op.status is OperationStatus.FAILED, op
            assert (op.error_message or "").startswith(RESTART_MESSAGE), op.error_message
        assert "42% done: Epoch 42/100" in (client.get_operation(ids.child).error_message or "")
        assert "before it started" in (client.get_operation(ids.pending).error_message or "")

        done = client.get_operation(ids.completed)
        assert done.status is OperationStatus.COMPLETED
        assert done.progress.percentage == 100.0
        assert done.result_summary == {"accuracy": 0.58}
        assert done.metadata.parameters == {"epochs": 3}
        assert done.elapsed_seconds is not None and done.elapsed_seconds >= 0
        failed = client.get_operation(ids.failed)
        assert failed.status is OperationStatus.FAILED
        assert failed.error_message == "No model found for strategy 'x'"

        parent = client.get_operation(ids.parent)
        assert [c.operation_id for c in parent.children] == [ids.child]
        assert parent.children[0].status is OperationStatus.FAILED
        assert parent.children[0].percentage == 42.0
        assert client.health().active_operations == 0
    # The recovery was written to the file, not only held in the server's memory.
    assert db_statuses(backend) == {
        ids.completed: "completed",
        ids.failed: "failed",
        ids.parent: "failed",
        ids.child: "failed",
        ids.pending: "failed",
    }


def test_listing_filters_pages_and_orders_newest_first(
    shared_seeded: tuple[LiveBackend, Seeded],
) -> None:
    backend, ids = shared_seeded
    newest_first = [ids.pending, ids.child, ids.parent, ids.failed, ids.completed]
    with backend.client() as client:
        ops, total = client.list_operations()
        assert [op.operation_id for op in ops] == newest_first and total == 5
        ops, total = client.list_operations(limit=2, offset=1)
        assert [op.operation_id for op in ops] == newest_first[1:3] and total == 5
        ops, total = client.list_operations(status="completed")
        assert [op.operation_id for op in ops] == [ids.completed] and total == 1
        ops, total = client.list_operations(operation_type="backtesting")
        assert [op.operation_id for op in ops] == [ids.pending, ids.failed] and total == 2
        ops, total = client.list_operations(parent_operation_id=ids.parent)
        assert [op.operation_id for op in ops] == [ids.child] and total == 1
        ops, total = client.list_operations(status="running")
        assert ops == [] and total == 0


def test_cancelling_a_finished_operation_is_409(
    shared_seeded: tuple[LiveBackend, Seeded],
) -> None:
    backend, ids = shared_seeded
    with httpx.Client(base_url=backend.url, timeout=10) as http:
        for op_id, status in ((ids.completed, "completed"), (ids.failed, "failed")):
            response = http.delete(f"{API}/operations/{op_id}")
            assert_error(response.status_code, response.json(), 409, "operation_already_finished")
            assert response.json()["error"]["details"] == {"operation_id": op_id, "status": status}
    with backend.client() as client:
        with pytest.raises(ConflictApiError):
            client.cancel_operation(ids.parent)
        assert client.get_operation(ids.completed).status is OperationStatus.COMPLETED


def test_operations_survive_a_hard_kill_and_nothing_stays_running(
    seeded_backend: tuple[LiveBackend, Seeded],
) -> None:
    backend, ids = seeded_backend
    with backend.client() as client:
        before = {op.operation_id: op for op in client.list_operations()[0]}
    assert len(before) == 5

    backend.kill()  # SIGKILL: no shutdown hook, no final flush
    assert not backend.running
    on_disk = db_statuses(backend)
    assert set(on_disk) == set(before)
    assert not {"running", "pending"} & set(on_disk.values()), on_disk

    backend.start()  # same port, same data dir
    with backend.client() as client:
        after = {op.operation_id: op for op in client.list_operations()[0]}
        assert client.health().active_operations == 0
    assert set(after) == set(before)
    for op_id, op in after.items():
        assert op.status is before[op_id].status, op_id
        assert op.status in (OperationStatus.COMPLETED, OperationStatus.FAILED)
        # Nothing was open any more, so the second start recovered nothing.
        assert op.version == before[op_id].version, op_id
        assert op.error_message == before[op_id].error_message


def test_a_graceful_stop_and_start_keeps_everything(
    seeded_backend: tuple[LiveBackend, Seeded],
) -> None:
    backend, ids = seeded_backend
    with backend.client() as client:
        before = client.get_operation(ids.completed)
    backend.stop()
    backend.start()
    with backend.client() as client:
        after = client.get_operation(ids.completed)
        assert client.list_operations()[1] == 5
    assert after.model_dump(exclude={"elapsed_seconds"}) == before.model_dump(
        exclude={"elapsed_seconds"}
    )
