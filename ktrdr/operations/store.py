"""Where operations persist: a small protocol with an in-memory and a SQLite implementation.

The service keeps the live copy of every operation in memory; a store only has to load
everything at start-up and save what changed. That keeps reads free of I/O and lets the
service coalesce frequent progress writes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Protocol

from pydantic import ValidationError

from ktrdr.errors import ConfigurationError, StoreInUseError
from ktrdr.operations.models import Operation

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class OperationStore(Protocol):
    def load_all(self) -> list[Operation]: ...

    def save_many(self, operations: Iterable[Operation]) -> None: ...

    def close(self) -> None: ...


class InMemoryOperationStore:
    """Keeps serialised copies, so what comes back is what a real store would give.

    Like the SQLite store, an older version never replaces a newer one: a progress flush
    that was snapshotted before a status change may arrive after it.
    """

    def __init__(self) -> None:
        self._rows: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self.writes = 0

    def load_all(self) -> list[Operation]:
        with self._lock:
            return [Operation.model_validate_json(raw) for _, raw in self._rows.values()]

    def save_many(self, operations: Iterable[Operation]) -> None:
        with self._lock:
            for op in operations:
                current = self._rows.get(op.operation_id)
                if current is None or op.version >= current[0]:
                    self._rows[op.operation_id] = (op.version, op.model_dump_json())
                self.writes += 1

    def close(self) -> None:
        return None


_SCHEMA = """
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
CREATE INDEX IF NOT EXISTS ix_operations_parent ON operations(parent_operation_id);
CREATE INDEX IF NOT EXISTS ix_operations_created ON operations(created_at);
"""


class _OwnerLock:
    """An exclusive, non-blocking OS lock on ``<db>.lock`` naming the owning pid.

    One backend owns a database: a second one would run restart recovery over the first's
    live operations and both would write the same rows. The OS drops the lock when the
    process dies, even by SIGKILL, so a crashed backend never blocks the next start.
    """

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._file: IO[str] | None = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115
        if fcntl is None:  # no flock on this platform: single-owner is on trust
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            self._file = None
            raise StoreInUseError(
                f"{db_path} is in use by another ktrdr backend (pid {holder}). Stop it "
                "first (`ktrdr server stop`) or give this one its own KTRDR_DATA_DIR or "
                "KTRDR_DB_PATH.",
                details={"db_path": str(db_path), "pid": holder},
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the flock
            self._file = None


class SqliteOperationStore:
    """One SQLite file in WAL mode; the full operation is kept as JSON beside indexed columns.

    The store owns its file exclusively while open (see ``_OwnerLock``): a second store on
    the same path raises ``StoreInUseError`` before reading or writing anything.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._owner = _OwnerLock(path)
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot use {path.parent} for the operations database: {exc.strerror or exc}. "
                "Set KTRDR_DATA_DIR or KTRDR_DB_PATH to a writable place.",
                details={"db_path": str(path)},
            ) from None
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self._owner.release()
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

    def load_all(self) -> list[Operation]:
        with self._lock:
            rows = self._conn.execute("SELECT operation_id, body FROM operations").fetchall()
        loaded = []
        for operation_id, body in rows:
            try:
                loaded.append(Operation.model_validate_json(body))
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
        return loaded

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
            )
            for op in operations
        ]
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "INSERT INTO operations VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(operation_id) DO UPDATE SET status=excluded.status, "
                    "updated_at=excluded.updated_at, version=excluded.version, "
                    "body=excluded.body WHERE excluded.version >= operations.version",
                    rows,
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self.writes += len(rows)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._owner.release()
