"""A database that cannot be written (busy past its timeout, a full disk) never leaves an
operation that does not end: a creation is undone whole and said so with the real cause;
changes to existing operations stay authoritative in memory and reach the real SQLite
file once it is writable again; /health says the store is degraded meanwhile; a model that
could not be written leaves no partial files."""

from __future__ import annotations

import errno
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ktrdr.api.app import create_app
from ktrdr.bootstrap import build_runtime
from ktrdr.config import load_settings
from ktrdr.errors import StorageUnavailableError
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import OperationStore
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.storage.sqlite_store import SqliteOperationStore
from ktrdr.storage.write_behind import WriteBehindStore
from tests.support.progress import report
from tests.support.stores import PassThroughStore
from tests.support.waiting import wait_until

FAILURES: dict[str, Callable[[], Exception]] = {
    "busy": lambda: sqlite3.OperationalError("database is locked"),
    "full": lambda: OSError(errno.ENOSPC, "No space left on device"),
}


class FlakyStore(PassThroughStore):
    """A real store whose writes fail, the way SQLite or the OS fail them, while told to."""

    def __init__(self, inner: OperationStore) -> None:
        super().__init__(inner)
        self.failure: str | None = None

    def save_many(self, operations: Iterable[Operation]) -> None:
        if self.failure is not None:
            raise FAILURES[self.failure]()
        self.inner.save_many(operations)


@pytest.fixture
def flaky(tmp_path: Path) -> Iterator[tuple[OperationsService, FlakyStore, WriteBehindStore]]:
    disk = FlakyStore(SqliteOperationStore(tmp_path / "ktrdr.db"))
    store = WriteBehindStore(disk, flush_interval=0.02)
    service = OperationsService(store)
    yield service, disk, store
    disk.failure = None
    service.close()


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_creation_that_cannot_be_written_is_undone_with_the_real_cause(
    flaky: tuple[OperationsService, FlakyStore, WriteBehindStore], failure: str
) -> None:
    service, disk, store = flaky
    disk.failure = failure
    with pytest.raises(StorageUnavailableError) as refused:
        service.create(OperationType.AGENT_RESEARCH, parameters={"seed": 1})
    cause = "database is locked" if failure == "busy" else "No space left on device"
    assert cause in refused.value.message
    assert refused.value.code == "storage_unavailable"
    # Nothing of it is left: not open, not listed, not counted, not on disk.
    assert service.open_operations() == []
    assert service.list_operations() == ([], 0)
    assert store.degraded is not None and cause in store.degraded
    disk.failure = None
    created = service.create(OperationType.AGENT_RESEARCH)  # the next one goes through
    assert service.list_operations()[1] == 1
    assert disk.inner.get(created.operation_id) is not None


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_an_end_that_cannot_be_written_is_kept_and_written_when_the_disk_is_back(
    flaky: tuple[OperationsService, FlakyStore, WriteBehindStore], failure: str
) -> None:
    service, disk, store = flaky
    op = service.start(service.create(OperationType.TRAINING).operation_id)
    report(service, op.operation_id, 40, "Epoch 4/10")
    disk.failure = failure
    report(service, op.operation_id, 60, "Epoch 6/10")
    done = service.complete(op.operation_id, {"val_accuracy": 0.6})
    assert service.get(op.operation_id).status is OperationStatus.COMPLETED
    assert service.open_operations() == []  # memory never waits for the disk
    on_disk = disk.inner.get(op.operation_id)
    assert on_disk is not None and on_disk.status is OperationStatus.RUNNING
    assert wait_until(lambda: store.degraded is not None)

    disk.failure = None
    assert wait_until(lambda: store.degraded is None), store.degraded
    assert disk.inner.get(op.operation_id) == done  # memory and the database agree


def test_health_says_degraded_while_writes_fail_and_stays_fast(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", progress_flush_seconds=0.02)
    runtime = build_runtime(settings)
    assert runtime.write_behind is not None
    disk = FlakyStore(runtime.write_behind._inner)
    runtime.write_behind._inner = disk
    try:
        app = create_app(runtime=runtime)
        with TestClient(app, base_url=f"http://127.0.0.1:{settings.port}") as http:
            assert http.get("/api/v1/health").json()["data"]["store_status"] == "ok"
            disk.failure = "full"
            refused = http.post("/api/v1/agent/trigger", json={"seed": 1})
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "storage_unavailable"
            started = time.perf_counter()
            health = http.get("/api/v1/health").json()["data"]
            assert time.perf_counter() - started < 1.0
            assert health["store_status"] == "degraded"
            assert "No space left on device" in health["store_problem"]
            # No cycle was left behind to block the next trigger with a 409.
            assert http.get("/api/v1/agent/status").json()["data"]["active"] is False
            # Degraded until a write succeeds again: the next trigger is that write.
            disk.failure = None
            assert http.post("/api/v1/agent/trigger", json={"seed": 1}).status_code == 202
            assert http.get("/api/v1/health").json()["data"]["store_status"] == "ok"
    finally:
        disk.failure = None
        runtime.close()


def test_a_model_that_cannot_be_written_leaves_no_partial_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ktrdr.jobs.strategy_files import read_strategy
    from ktrdr.strategies.models import StrategyConfig
    from ktrdr.training import model_store

    strategy = StrategyConfig.model_validate(read_strategy("rsi_mean_reversion"))

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("ktrdr.training.model_store.joblib.dump", disk_full)
    with pytest.raises(OSError, match="No space left"):
        model_store.save_model(tmp_path, strategy, None, None, [], {})
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() or p.name.endswith(".tmp")]
    assert leftovers == []
