"""SqliteOperationStore against a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ktrdr.errors import ConfigurationError, StoreInUseError
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import OperationQuery
from ktrdr.records.models import (
    Operation,
    OperationMetadata,
    OperationProgress,
    OperationStatus,
    OperationType,
)
from ktrdr.storage.sqlite_store import SqliteOperationStore
from ktrdr.storage.write_behind import WriteBehindStore
from tests.support.progress import report


def all_rows(store: SqliteOperationStore) -> list[Operation]:
    """Every stored operation, read back whole, newest first."""
    rows = store.page(OperationQuery(limit=1_000_000))
    return [op for row in rows if (op := store.get(row.operation_id)) is not None]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "ktrdr.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteOperationStore]:
    s = SqliteOperationStore(db_path)
    yield s
    s.close()


def rich_operation(operation_id: str = "op_training_1", version: int = 1) -> Operation:
    return Operation(
        operation_id=operation_id,
        operation_type=OperationType.TRAINING,
        status=OperationStatus.RUNNING,
        parent_operation_id="op_agent_research_1",
        created_at=datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
        started_at=datetime(2024, 3, 1, 12, 0, 1, tzinfo=UTC),
        updated_at=datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC),
        progress=OperationProgress(
            percentage=67.5,
            current_step="Epoch 67/100",
            items_processed=67,
            items_total=100,
            context={"phase": "training", "child_op_id": None, "nested": {"loss": [0.5, 0.4]}},
        ),
        metadata=OperationMetadata(parameters={"symbol": "SP500", "epochs": 100, "ünï": "✓"}),
        result_summary={"partial": True},
        cancel_requested=True,
        version=version,
    )


def raw_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return list(conn.execute(sql).fetchall())


def test_the_file_is_created_in_wal_mode(store: SqliteOperationStore, db_path: Path) -> None:
    assert db_path.is_file()
    store.save_many([rich_operation()])
    # The store holds the file exclusively while open: no memory-mapped -shm file (a
    # full filesystem would turn its page faults into SIGBUS), and no foreign reader.
    assert not db_path.with_name(db_path.name + "-shm").exists()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        raw_rows(db_path, "SELECT COUNT(*) FROM operations")
    store.close()
    # WAL is a property of the file: a separate connection sees it too.
    assert raw_rows(db_path, "PRAGMA journal_mode") == [("wal",)]


def test_round_trip_keeps_every_field(store: SqliteOperationStore) -> None:
    op = rich_operation()
    store.save_many([op])
    (loaded,) = all_rows(store)
    assert loaded == op
    assert loaded.created_at.tzinfo is not None
    assert loaded.progress.context["nested"] == {"loss": [0.5, 0.4]}


def test_indexed_columns_follow_the_body(store: SqliteOperationStore, db_path: Path) -> None:
    op = rich_operation()
    store.save_many([op])
    done = op.model_copy(update={"status": OperationStatus.COMPLETED, "version": 2})
    store.save_many([done])
    store.close()
    rows = raw_rows(
        db_path,
        "SELECT operation_id, operation_type, status, parent_operation_id, version FROM operations",
    )
    assert rows == [("op_training_1", "training", "completed", "op_agent_research_1", 2)]


def test_save_is_an_upsert_by_id(store: SqliteOperationStore, db_path: Path) -> None:
    first = rich_operation(version=1)
    second = first.model_copy(update={"version": 2, "progress": OperationProgress(percentage=80.0)})
    other = rich_operation("op_training_2")
    store.save_many([first, other])
    store.save_many([second])
    by_id = {op.operation_id: op for op in all_rows(store)}
    assert by_id == {"op_training_1": second, "op_training_2": other}
    assert store.writes == 3
    store.close()
    assert raw_rows(db_path, "SELECT COUNT(*) FROM operations") == [(2,)]


def test_an_older_version_never_overwrites_a_newer_one(store: SqliteOperationStore) -> None:
    newer = rich_operation(version=5).model_copy(update={"status": OperationStatus.COMPLETED})
    older = rich_operation(version=4)
    store.save_many([newer])
    store.save_many([older])
    assert all_rows(store) == [newer]
    # The same version may be written again (a retried flush).
    same = newer.model_copy(update={"error_message": "rewritten"})
    store.save_many([same])
    assert all_rows(store) == [same]


def test_an_empty_batch_writes_nothing(store: SqliteOperationStore) -> None:
    store.save_many([])
    assert store.writes == 0
    assert all_rows(store) == []


def test_a_reopened_store_sees_the_data(db_path: Path) -> None:
    first = SqliteOperationStore(db_path)
    ops = [rich_operation(f"op_training_{n}", version=n + 1) for n in range(50)]
    first.save_many(ops)
    first.close()

    again = SqliteOperationStore(db_path)
    try:
        loaded = sorted(all_rows(again), key=lambda op: op.version)
        assert loaded == ops
    finally:
        again.close()


def test_a_service_on_a_reopened_file_sees_what_the_last_one_wrote(db_path: Path) -> None:
    first = OperationsService(WriteBehindStore(SqliteOperationStore(db_path), flush_interval=60))
    op = first.create(OperationType.BACKTESTING, parameters={"symbol": "NASDAQ"})
    first.start(op.operation_id)
    report(first, op.operation_id, 55, "Bar 2,750/5,000")  # flushed by close()
    trained = first.start(first.create(OperationType.TRAINING).operation_id)
    done = first.complete(trained.operation_id)
    first.close()

    second = OperationsService(SqliteOperationStore(db_path))
    try:
        assert second.get(done.operation_id) == done
        interrupted = second.get(op.operation_id)
        assert interrupted.status is OperationStatus.FAILED
        assert interrupted.progress.percentage == 55.0
        assert "55% done: Bar 2,750/5,000" in (interrupted.error_message or "")
    finally:
        second.close()
    rows = raw_rows(db_path, "SELECT operation_id, status FROM operations ORDER BY status")
    assert rows == [(done.operation_id, "completed"), (op.operation_id, "failed")]


def test_writes_from_several_threads_all_land(store: SqliteOperationStore) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for version in range(1, 51):
                store.save_many([rich_operation(f"op_{n}", version=version)])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted((op.operation_id, op.version) for op in all_rows(store)) == [
        (f"op_{n}", 50) for n in range(4)
    ]


def test_a_second_store_on_the_same_file_is_refused_until_the_first_closes(
    db_path: Path,
) -> None:
    first = SqliteOperationStore(db_path)
    first.save_many([rich_operation(version=3)])
    with pytest.raises(StoreInUseError) as refused:
        SqliteOperationStore(db_path)
    assert refused.value.code == "store_in_use"
    assert f"pid {os.getpid()}" in refused.value.message
    assert str(db_path) in refused.value.message
    first.close()
    # The refused store touched nothing: the owner's row is as it wrote it.
    assert raw_rows(db_path, "SELECT operation_id, version FROM operations") == [
        ("op_training_1", 3)
    ]

    again = SqliteOperationStore(db_path)  # a closed (or dead) owner no longer blocks
    try:
        assert [op.version for op in all_rows(again)] == [3]
    finally:
        again.close()


def test_a_refused_service_does_not_recover_the_owners_running_work(db_path: Path) -> None:
    owner = OperationsService(SqliteOperationStore(db_path))
    try:
        op = owner.create(OperationType.TRAINING)
        owner.start(op.operation_id)
        with pytest.raises(StoreInUseError):
            OperationsService(SqliteOperationStore(db_path))
        assert owner.get(op.operation_id).status is OperationStatus.RUNNING
    finally:
        owner.close()
    assert raw_rows(db_path, "SELECT status FROM operations") == [("running",)]


def test_a_row_this_version_cannot_read_is_refused_not_dropped(db_path: Path) -> None:
    first = SqliteOperationStore(db_path)
    first.save_many([rich_operation()])
    first.close()
    with closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute("UPDATE operations SET body = '{\"operation_id\": 1}'")

    with pytest.raises(ConfigurationError) as refused:
        OperationsService(SqliteOperationStore(db_path))
    assert refused.value.code == "store_unusable"
    assert "op_training_1" in refused.value.message
    assert raw_rows(db_path, "SELECT body FROM operations") == [('{"operation_id": 1}',)]
    # The refused service let go of the file: the next owner is not locked out.
    SqliteOperationStore(db_path).close()


def test_the_same_file_named_another_way_is_still_refused(db_path: Path, tmp_path: Path) -> None:
    first = SqliteOperationStore(db_path)
    try:
        alias_dir = tmp_path / "alias"
        alias_dir.symlink_to(db_path.parent, target_is_directory=True)
        spellings = [
            alias_dir / db_path.name,  # through a symlinked directory
            db_path.parent / ".." / db_path.parent.name / db_path.name,  # with a ..
        ]
        linked = tmp_path / "linked.db"
        linked.symlink_to(db_path)  # a symlink to the file itself
        spellings.append(linked)
        for other in spellings:
            with pytest.raises(StoreInUseError):
                SqliteOperationStore(other)
    finally:
        first.close()
