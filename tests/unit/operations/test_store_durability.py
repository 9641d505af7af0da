"""What the write-behind store can say about the disk: which changes exist only in memory
(a cancel the API acknowledged but could not write), and a database file that was removed
or replaced under it (noticed by the flusher and before new work, said once)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from ktrdr.errors import StoreFileReplacedError
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation, OperationType
from ktrdr.storage.file_identity import FileIdentity
from ktrdr.storage.sqlite_store import SqliteOperationStore
from ktrdr.storage.write_behind import WriteBehindStore
from tests.support.stores import PassThroughStore
from tests.support.waiting import wait_until


class FullDisk(PassThroughStore):
    """A real SQLite store whose writes fail with ENOSPC while ``full`` is set."""

    full = False

    def save_many(self, operations: Iterable[Operation]) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.inner.save_many(operations)


@pytest.fixture
def on_full_disk(tmp_path: Path) -> Iterator[tuple[OperationsService, FullDisk, WriteBehindStore]]:
    disk = FullDisk(SqliteOperationStore(tmp_path / "ktrdr.db"))
    store = WriteBehindStore(disk, flush_interval=0.02)
    service = OperationsService(store, cancel_grace_seconds=60)
    yield service, disk, store
    disk.full = False
    service.close()


def test_a_cancel_the_disk_refused_is_reported_unwritten_until_it_is_written(
    on_full_disk: tuple[OperationsService, FullDisk, WriteBehindStore],
) -> None:
    """Item 2 (issue 21): the store says which acknowledged cancels are not durable yet."""
    service, disk, store = on_full_disk
    parent = service.start(service.create(OperationType.AGENT_RESEARCH).operation_id)
    child = service.create(OperationType.TRAINING, parent_operation_id=parent.operation_id)
    service.start(child.operation_id)
    other = service.start(service.create(OperationType.TRAINING).operation_id)
    ids = [parent.operation_id, child.operation_id]
    assert store.unwritten(ids) == []

    disk.full = True
    service.cancel(parent.operation_id)
    assert sorted(store.unwritten([*ids, other.operation_id])) == sorted(ids)

    disk.full = False
    assert wait_until(lambda: store.unwritten(ids) == [], timeout=5)
    on_disk = disk.inner.get(parent.operation_id)
    assert on_disk is not None and on_disk.cancel_requested


def _store_on(path: Path, flush_interval: float) -> WriteBehindStore:
    sqlite = SqliteOperationStore(path)
    return WriteBehindStore(
        sqlite, flush_interval=flush_interval, file_check=FileIdentity.of(path).problem
    )


def test_a_removed_database_file_is_noticed_by_the_flusher_and_refuses_new_work(
    tmp_path: Path,
) -> None:
    """Item 4 (issue 21): the flusher notices a removed database file without any write."""
    path = tmp_path / "ktrdr.db"
    store = _store_on(path, flush_interval=0.02)
    service = OperationsService(store)
    try:
        op = service.create(OperationType.TRAINING)
        assert store.degraded is None
        path.unlink()
        assert wait_until(lambda: store.degraded is not None, timeout=5)
        assert "removed or replaced" in (store.degraded or "")
        assert str(path) not in (store.degraded or "")
        with pytest.raises(StoreFileReplacedError) as refused:
            service.create(OperationType.TRAINING)
        assert refused.value.code == "store_file_replaced"
        assert [o.operation_id for o in service.open_operations()] == [op.operation_id]
        # Memory stays authoritative; nothing more goes into the unlinked file.
        service.start(op.operation_id)
        assert store.unwritten([op.operation_id]) == [op.operation_id]
    finally:
        service.close()


def test_a_replaced_database_file_is_noticed_before_new_work_is_accepted(
    tmp_path: Path,
) -> None:
    """Item 4 (issue 21): a file swapped in under the path is caught at the next creation."""
    path = tmp_path / "ktrdr.db"
    # The flusher never runs in this test: only the check before new work can notice.
    store = _store_on(path, flush_interval=3600)
    service = OperationsService(store)
    try:
        service.create(OperationType.TRAINING)
        impostor = tmp_path / "other.db"
        impostor.write_bytes(path.read_bytes())
        os.replace(impostor, path)
        with pytest.raises(StoreFileReplacedError):
            service.create(OperationType.BACKTESTING)
        assert "removed or replaced" in (store.degraded or "")
    finally:
        service.close()


def test_file_identity_tells_the_same_file_from_a_new_one(tmp_path: Path) -> None:
    """Item 4 (issue 21): the identity check itself, on real files."""
    path = tmp_path / "a.db"
    path.write_bytes(b"x")
    identity = FileIdentity.of(path)
    assert identity.problem() is None
    path.write_bytes(b"rewritten in place")  # same inode: still the file we opened
    assert identity.problem() is None
    # Held open, as SQLite holds its file: the inode cannot be reused by the next file.
    with path.open("rb"):
        path.unlink()
        assert "removed" in (identity.problem() or "")
        path.write_bytes(b"x")  # a new file under the old name
        assert "replaced" in (identity.problem() or "")
