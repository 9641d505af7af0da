"""What reaches the store: recovery after a restart, coalesced progress writes, status
changes written through, and no late flush overwriting a newer status."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ktrdr.operations.recovery import RESTART_MESSAGE
from ktrdr.operations.service import RUNNING_PROGRESS_CAP, OperationsService
from ktrdr.operations.store import InMemoryOperationStore, OperationStore
from ktrdr.records.models import Operation, OperationStatus
from ktrdr.storage.sqlite_store import SqliteOperationStore
from ktrdr.storage.write_behind import WriteBehindStore
from tests.support.progress import progress, report
from tests.support.stores import PassThroughStore
from tests.support.waiting import wait_until
from tests.unit.operations.arrange import BACKTESTING, TRAINING, running, stored


def test_restart_marks_open_operations_failed(store: InMemoryOperationStore) -> None:
    first = OperationsService(store, cancel_grace_seconds=60)
    done = running(first)
    done = first.complete(done.operation_id, {"accuracy": 0.7})
    mid = running(first)
    progress(first, mid.operation_id, 40, "Epoch 4/10")
    waiting = first.create(BACKTESTING)
    cancelling = running(first)
    first.cancel(cancelling.operation_id)
    cancelled = first.cancel(first.create(TRAINING).operation_id)
    before = {op.operation_id: op for op in first.list_operations()[0]}
    first.close()

    second = OperationsService(store)
    try:
        interrupted = {mid.operation_id, waiting.operation_id}
        # An acknowledged cancel comes back cancelled (issue 21; see test_stop_rules.py).
        assert set(second.recovered) == {*interrupted, cancelling.operation_id}
        assert second.get(cancelling.operation_id).status is OperationStatus.CANCELLED
        for op_id in interrupted:
            op = second.get(op_id)
            assert op.status is OperationStatus.FAILED, op_id
            assert op.error_message is not None
            assert op.error_message.startswith(RESTART_MESSAGE)
            assert op.completed_at is not None
            assert op.version == before[op_id].version + 1
            assert stored(store, op_id) == op  # written back, not only in memory
        assert "40% done: Epoch 4/10" in (second.get(mid.operation_id).error_message or "")
        assert second.get(done.operation_id) == done
        assert second.get(cancelled.operation_id) == cancelled
    finally:
        second.close()

    third = OperationsService(store)
    try:
        assert third.recovered == []
    finally:
        third.close()


@contextmanager
def _writing_behind(store: OperationStore, flush_interval: float) -> Iterator[OperationsService]:
    """A service whose progress reaches ``store`` through a write-behind buffer."""
    svc = OperationsService(WriteBehindStore(store, flush_interval=flush_interval))
    try:
        yield svc
    finally:
        svc.close()


def test_progress_writes_are_coalesced_and_reads_stay_live(
    store: InMemoryOperationStore,
) -> None:
    # A flush interval far longer than the test: only close() may write progress.
    with _writing_behind(store, 60) as svc:
        op = running(svc)
        writes = store.writes
        for i in range(1, 1001):
            progress(svc, op.operation_id, i / 10, f"step {i}")
            assert svc.get(op.operation_id).progress.current_step == f"step {i}"
        assert store.writes == writes
        assert stored(store, op.operation_id).progress.percentage == 0.0
        live = svc.get(op.operation_id)
        assert live.progress.percentage == RUNNING_PROGRESS_CAP
    assert store.writes == writes + 1
    assert stored(store, op.operation_id) == live


def test_the_flusher_persists_progress_in_few_writes(store: InMemoryOperationStore) -> None:
    with _writing_behind(store, 0.02) as svc:
        op = running(svc)
        writes = store.writes
        for i in range(1, 2001):
            report(svc, op.operation_id, i / 40, f"bar {i}")
        latest = svc.get(op.operation_id)
        assert wait_until(lambda: stored(store, op.operation_id) == latest, timeout=5)
        flushes = store.writes - writes
        assert 1 <= flushes < 200, flushes


def test_status_changes_write_through_at_once(store: InMemoryOperationStore) -> None:
    with _writing_behind(store, 60) as svc:
        op = running(svc)
        progress(svc, op.operation_id, 50)
        assert stored(store, op.operation_id).status is OperationStatus.RUNNING
        progress(svc, op.operation_id, 60, parameters={"phase": "training"})
        assert stored(store, op.operation_id).metadata.parameters == {"phase": "training"}
        done = svc.complete(op.operation_id)
        assert stored(store, op.operation_id) == done


class GatedFlushStore(PassThroughStore):
    """Holds the background flusher inside ``save_many`` until released."""

    def __init__(self, inner: OperationStore) -> None:
        super().__init__(inner)
        self.flusher_waiting = threading.Event()
        self.release = threading.Event()

    def save_many(self, operations: Iterable[Operation]) -> None:
        batch = list(operations)
        if batch and threading.current_thread().name == "ktrdr-operations-flusher":
            self.flusher_waiting.set()
            self.release.wait(timeout=10)
        self.inner.save_many(batch)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_late_progress_flush_never_overwrites_a_newer_status(kind: str, tmp_path: Path) -> None:
    def open_store() -> OperationStore:
        if kind == "memory":
            return memory
        return SqliteOperationStore(tmp_path / "ktrdr.db")

    memory = InMemoryOperationStore()
    gated = GatedFlushStore(open_store())
    svc = OperationsService(WriteBehindStore(gated, flush_interval=0.01))
    try:
        op = running(svc)
        progress(svc, op.operation_id, 50, "half way")
        # The flusher now holds a snapshot of the running operation, not yet written...
        assert gated.flusher_waiting.wait(timeout=5)
        done = svc.complete(op.operation_id, {"ok": True})
    finally:
        gated.release.set()  # ...and writes it after the completion went through.
        svc.close()

    after_restart = OperationsService(open_store())
    try:
        assert after_restart.recovered == []
        assert after_restart.get(op.operation_id) == done
    finally:
        after_restart.close()


def test_close_flushes_pending_progress(store: InMemoryOperationStore) -> None:
    svc = OperationsService(WriteBehindStore(store, flush_interval=60))
    ops = [running(svc) for _ in range(3)]
    for n, op in enumerate(ops):
        progress(svc, op.operation_id, 10 * (n + 1), f"op {n}")
    svc.close()
    svc.close()  # closing twice is harmless
    for n, op in enumerate(ops):
        row = stored(store, op.operation_id)
        assert row.progress.percentage == 10 * (n + 1)
        assert row.progress.current_step == f"op {n}"
