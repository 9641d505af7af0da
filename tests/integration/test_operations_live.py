"""A backend killed in the middle of real training: the restart says where the work was."""

from __future__ import annotations

import time

import httpx

from ktrdr.operations.recovery import RESTART_MESSAGE
from ktrdr.storage.sqlite_store import SqliteOperationStore
from tests.conftest import BackendFactory
from tests.support.waiting import wait_until


def test_restart_recovery_after_a_hard_kill(backend_factory: BackendFactory) -> None:
    backend = backend_factory()
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        op_id = http.post(
            "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 50000}
        ).json()["data"]["operation_id"]

        def epochs_done() -> int:
            data = http.get(f"/operations/{op_id}").json()["data"]
            return int(data["progress"]["items_processed"] or 0)

        assert wait_until(lambda: epochs_done() >= 3, 60, 0.02), "the training never got going"
        time.sleep(0.6)  # let the coalesced progress reach the file
    backend.kill()

    store = SqliteOperationStore(backend.data_dir / "ktrdr.db")
    on_disk = store.get(op_id)
    store.close()
    assert (
        on_disk is not None and on_disk.status.value == "running"
    )  # what the dead process left behind

    backend.start()
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        op = http.get(f"/operations/{op_id}").json()["data"]
    assert op["status"] == "failed"
    assert op["error_message"].startswith(RESTART_MESSAGE)
    assert "Epoch" in op["error_message"]  # it says where the work was
