"""The operations API of a real backend on a real SQLite file, including restart recovery."""

from __future__ import annotations

import time

import httpx

from ktrdr.operations.models import OperationType
from ktrdr.operations.service import RESTART_MESSAGE, OperationsService
from ktrdr.operations.store import SqliteOperationStore
from tests.conftest import BackendFactory


def test_envelopes_and_errors(backend_factory: BackendFactory) -> None:
    backend = backend_factory()
    with httpx.Client(base_url=backend.url, timeout=5) as http:
        health = http.get("/api/v1/health").json()
        assert health["success"] is True
        assert health["data"]["store"] == f"sqlite:{backend.data_dir / 'ktrdr.db'}"
        listed = http.get("/api/v1/operations").json()
        assert listed == {"success": True, "data": [], "total": 0, "limit": 100, "offset": 0}

        for query, field in (
            ("status=bogus", "status"),
            ("operation_type=x", "operation_type"),
            ("limit=0", "limit"),
        ):
            bad = http.get(f"/api/v1/operations?{query}")
            assert bad.status_code == 422
            body = bad.json()
            assert body["success"] is False and body["error"]["code"] == "validation_error"
            assert body["error"]["details"]["errors"][0]["field"] == field

        missing = http.get("/api/v1/operations/op_nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "operation_not_found"
        assert http.delete("/api/v1/operations/op_nope").status_code == 404

        unknown = http.get("/api/v1/nothing-here")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/json")
        assert unknown.json()["error"]["code"] == "not_found"
        assert http.get("/docs").status_code == 200
        assert "/api/v1/operations/{operation_id}" in http.get("/openapi.json").json()["paths"]


def test_restart_recovery_after_a_hard_kill(backend_factory: BackendFactory) -> None:
    backend = backend_factory()
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        op_id = http.post(
            "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 50000}
        ).json()["data"]["operation_id"]
        while (
            http.get(f"/operations/{op_id}").json()["data"]["progress"]["items_processed"] or 0
        ) < 3:
            time.sleep(0.02)
        time.sleep(0.6)  # let the coalesced progress reach the file
    backend.kill()

    store = SqliteOperationStore(backend.data_dir / "ktrdr.db")
    on_disk = {op.operation_id: op for op in store.load_all()}
    store.close()
    assert on_disk[op_id].status.value == "running"  # what the dead process left behind

    backend.start()
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        op = http.get(f"/operations/{op_id}").json()["data"]
    assert op["status"] == "failed"
    assert op["error_message"].startswith(RESTART_MESSAGE)
    assert "Epoch" in op["error_message"]  # it says where the work was


def test_finished_operations_survive_restarts_and_cancel_is_409(
    backend_factory: BackendFactory,
) -> None:
    backend = backend_factory()
    backend.stop()
    # Seed the same SQLite file offline, as a previous process would have left it.
    service = OperationsService(
        SqliteOperationStore(backend.data_dir / "ktrdr.db"), flush_interval=0
    )
    done = service.create(OperationType.BACKTESTING)
    service.start(done.operation_id)
    service.complete(done.operation_id, {"metrics": {"sharpe_ratio": 1.0}})
    parent = service.create(OperationType.AGENT_RESEARCH)
    service.start(parent.operation_id)
    child = service.create(OperationType.TRAINING, parent_operation_id=parent.operation_id)
    service.start(child.operation_id)
    service.close()

    backend.start()
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        kept = http.get(f"/operations/{done.operation_id}").json()["data"]
        assert kept["status"] == "completed" and kept["progress"]["percentage"] == 100.0
        conflict = http.delete(f"/operations/{done.operation_id}")
        assert conflict.status_code == 409
        assert conflict.json()["error"]["code"] == "operation_already_finished"
        tree = http.get(f"/operations/{parent.operation_id}").json()["data"]
        assert tree["status"] == "failed"
        assert [c["operation_id"] for c in tree["children"]] == [child.operation_id]
        assert tree["children"][0]["status"] == "failed"
        page = http.get("/operations", params={"parent_operation_id": parent.operation_id})
        assert [o["operation_id"] for o in page.json()["data"]] == [child.operation_id]
        newest = http.get("/operations", params={"limit": 1}).json()
        assert newest["total"] == 3 and newest["data"][0]["operation_id"] == child.operation_id
