"""The default store: one SQLite file in WAL mode, read through its indexes.

Each row keeps the whole operation as JSON (``body``, read only for one operation) and its
listing projection (``summary``), beside the indexed columns that listings filter and sort
on. A listing reads a page of summaries through an index and never parses a body, so its
cost does not grow with history; only open operations are read at start.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ktrdr.errors import ConfigurationError
from ktrdr.logging import get_logger
from ktrdr.operations.store import OPEN_STATUSES, OperationQuery, Tally
from ktrdr.operations.summary import summarize
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.summary import OperationSummary
from ktrdr.storage.in_use import lock_holder, store_in_use
from ktrdr.storage.owner_lock import OwnerLock

SCHEMA_VERSION = 3  # 3: listings order by ``seq``, the insertion sequence

_TABLE = """
CREATE TABLE IF NOT EXISTS operations (
    operation_id TEXT PRIMARY KEY,
    operation_type TEXT NOT NULL,
    status TEXT NOT NULL,
    parent_operation_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""
# Every listing is "newest first" under at most these filters; each has an index that
# yields its rows already in order, so a page costs its own size, not the table's.
# "Newest" is the insertion sequence ``seq``, never ``created_at``: a wall clock set back
# must not list new work below old.
_INDEXES = """
DROP INDEX IF EXISTS ix_operations_parent;
DROP INDEX IF EXISTS ix_operations_created;
DROP INDEX IF EXISTS ix_ops_created;
DROP INDEX IF EXISTS ix_ops_type;
DROP INDEX IF EXISTS ix_ops_status;
DROP INDEX IF EXISTS ix_ops_type_status;
DROP INDEX IF EXISTS ix_ops_parent;
CREATE UNIQUE INDEX IF NOT EXISTS ix_ops_seq ON operations(seq);
CREATE INDEX IF NOT EXISTS ix_ops_type_seq ON operations(operation_type, seq);
CREATE INDEX IF NOT EXISTS ix_ops_status_seq ON operations(status, seq);
CREATE INDEX IF NOT EXISTS ix_ops_type_status_seq ON operations(operation_type, status, seq);
CREATE INDEX IF NOT EXISTS ix_ops_parent_seq ON operations(parent_operation_id, seq);
"""
# A new row takes the next sequence number (read through ix_ops_seq: one index step); an
# update keeps the row's own.
_UPSERT = (
    "INSERT INTO operations (operation_id, operation_type, status, parent_operation_id, "
    "created_at, updated_at, version, body, summary, seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM operations)) "
    "ON CONFLICT(operation_id) DO UPDATE SET status=excluded.status, "
    "updated_at=excluded.updated_at, version=excluded.version, "
    "body=excluded.body, summary=excluded.summary "
    "WHERE excluded.version >= operations.version"
)
_MIGRATION_BATCH = 2000
# SQLITE_BUSY and SQLITE_LOCKED: "database is locked", another connection holds the file.
_HELD_ELSEWHERE = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def own_exclusively(conn: sqlite3.Connection) -> None:
    """Put a file this backend alone uses (the operations database, the webhook deliveries)
    in exclusive WAL mode. One backend owns the file, so SQLite may too: in exclusive mode
    the WAL index lives in this process's heap instead of a memory-mapped -shm file, so a
    full or unwritable filesystem fails a write with an error instead of killing the
    process with SIGBUS on a page fault."""
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")


class SqliteOperationStore:
    """The store owns its file exclusively while open (see ``OwnerLock``): a second store on
    the same file raises ``StoreInUseError`` before reading or writing anything."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._owner = OwnerLock(path)
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot use {path.parent} for the operations database: {exc.strerror or exc}. "
                "Set KTRDR_DATA_DIR or KTRDR_DB_PATH to a writable place.",
                details={"db_path": str(path)},
            ) from None
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            own_exclusively(self._conn)  # the file is this backend's alone (OwnerLock)
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except sqlite3.Error as exc:
            self._owner.release()
            # The primary code (low byte): extended ones like SQLITE_BUSY_RECOVERY count too.
            if (int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF) in _HELD_ELSEWHERE:
                # Another process has it open (its lock file gone, an sqlite3 shell): it is
                # live, so the advice is to stop that process, never to move the file.
                raise store_in_use(path, lock_holder(path)) from None
            raise ConfigurationError(
                f"{path} is not a usable ktrdr database ({exc}). Nothing was changed; move "
                "it aside or point KTRDR_DB_PATH at another file.",
                code="store_unusable",
                details={"db_path": str(path)},
            ) from None
        except BaseException:
            self._owner.release()
            raise
        self.writes = 0

    # ------------------------------------------------------------------ schema
    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"{self.path} was written by a newer ktrdr (schema {version}; this one reads "
                f"up to {SCHEMA_VERSION}). Nothing was changed.",
                code="store_unusable",
                details={"db_path": str(self.path)},
            )
        self._conn.executescript(_TABLE)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(operations)")}
        if "summary" not in columns:
            self._conn.execute("ALTER TABLE operations ADD COLUMN summary TEXT")
        self._backfill_summaries()
        if "seq" not in columns:
            self._add_sequence()
        self._conn.executescript(_INDEXES)
        self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _backfill_summaries(self) -> None:
        """Databases from before listings read summaries: compute each row's once."""
        done = 0
        while True:
            rows = self._conn.execute(
                "SELECT operation_id, body FROM operations WHERE summary IS NULL LIMIT ?",
                (_MIGRATION_BATCH,),
            ).fetchall()
            if not rows:
                break
            updates = [
                (summarize(self._parse(operation_id, body)).model_dump_json(), operation_id)
                for operation_id, body in rows
            ]
            self._conn.execute("BEGIN")
            self._conn.executemany("UPDATE operations SET summary=? WHERE operation_id=?", updates)
            self._conn.execute("COMMIT")
            done += len(rows)
        if done:
            get_logger("ktrdr.store").info("listing summaries added", operations=done)

    def _add_sequence(self) -> None:
        """Databases from before schema 3: number the rows in the order they were inserted.
        Their rowid is that order (an upsert keeps a row's rowid, and ktrdr never VACUUMs),
        and unlike ``created_at`` it never went back with the clock."""
        self._conn.execute("BEGIN")
        self._conn.execute("ALTER TABLE operations ADD COLUMN seq INTEGER")
        numbered = self._conn.execute("UPDATE operations SET seq = rowid").rowcount
        self._conn.execute("COMMIT")
        if numbered:
            get_logger("ktrdr.store").info("listing sequence added", operations=numbered)

    def _parse(self, operation_id: str, body: str) -> Operation:
        try:
            return Operation.model_validate_json(body)
        except ValidationError as exc:
            # Refuse rather than drop or rewrite what we cannot read.
            raise ConfigurationError(
                f"{self.path} holds operation {operation_id} in a form this ktrdr cannot "
                f"read ({exc.error_count()} problem(s), e.g. {exc.errors()[0]['msg']}). "
                "Nothing was changed; use the ktrdr version that wrote it, or move the "
                "file aside.",
                code="store_unusable",
                details={"db_path": str(self.path), "operation_id": operation_id},
            ) from None

    # ------------------------------------------------------------------ reads
    def load_open(self) -> list[Operation]:
        marks = ",".join("?" * len(OPEN_STATUSES))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT operation_id, body FROM operations WHERE status IN ({marks})",
                [s.value for s in OPEN_STATUSES],
            ).fetchall()
        return [self._parse(operation_id, body) for operation_id, body in rows]

    def get(self, operation_id: str) -> Operation | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT body FROM operations WHERE operation_id = ?", (operation_id,)
            ).fetchone()
        return None if row is None else self._parse(operation_id, row[0])

    def page(self, query: OperationQuery) -> list[OperationSummary]:
        where, args = _where(query)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT summary FROM operations {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*args, query.limit, query.offset],
            ).fetchall()
        return [OperationSummary.model_validate_json(row[0]) for row in rows]

    def count(self, query: OperationQuery) -> int:
        where, args = _where(query)
        with self._lock:
            row = self._conn.execute(f"SELECT COUNT(*) FROM operations {where}", args).fetchone()
        return int(row[0])

    def tally(self) -> Tally:
        with self._lock:
            rows = self._conn.execute(
                "SELECT operation_type, status, COUNT(*) FROM operations "
                "GROUP BY operation_type, status"
            ).fetchall()
        return {(OperationType(kind), OperationStatus(status)): n for kind, status, n in rows}

    # ------------------------------------------------------------------ writes
    def save_many(self, operations: Iterable[Operation]) -> None:
        rows = [
            (
                op.operation_id,
                op.operation_type.value,
                op.status.value,
                op.parent_operation_id,
                op.created_at.isoformat(),
                op.updated_at.isoformat(),
                op.version,
                op.model_dump_json(),
                summarize(op).model_dump_json(),
            )
            for op in operations
        ]
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(_UPSERT, rows)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self.writes += len(rows)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._owner.release()


def _where(query: OperationQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if query.status is not None:
        clauses.append("status = ?")
        args.append(query.status.value)
    if query.operation_type is not None:
        clauses.append("operation_type = ?")
        args.append(query.operation_type.value)
    if query.parent_operation_id is not None:
        clauses.append("parent_operation_id = ?")
        args.append(query.parent_operation_id)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args
