"""Webhook deliveries in SQLite: the ``DeliveryStore`` (``ktrdr.notify.deliveries``) a
backend with a database keeps, in a file of its own beside the operations database (the
operations store's owner lock covers both: one backend per pair).

Every write is one transaction; the process's one connection is shared by the notifier's
threads and the API's reads under a lock (each statement is short)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ktrdr.errors import ConfigurationError
from ktrdr.notify import deliveries as port
from ktrdr.storage.sqlite_store import own_exclusively

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    url TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL,
    due_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    UNIQUE (subject_id, event_type, url)
);
CREATE INDEX IF NOT EXISTS ix_deliveries_due ON deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_deliveries_subject ON deliveries (subject_id);
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id INTEGER NOT NULL REFERENCES deliveries (delivery_id),
    number INTEGER NOT NULL,
    started_at REAL NOT NULL,
    seconds REAL NOT NULL,
    status_code INTEGER,
    error TEXT,
    next_attempt_at REAL,
    PRIMARY KEY (delivery_id, number)
);
CREATE TABLE IF NOT EXISTS batch_members (
    batch_id TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (batch_id, operation_id)
);
CREATE INDEX IF NOT EXISTS ix_batch_members_operation ON batch_members (operation_id);
"""
_COLUMNS = (
    "message_id, subject_id, event_type, url, body, created_at, "
    "delivery_id, state, due_at, attempts"
)


def deliveries_path(database_path: Path) -> Path:
    """The deliveries file paired with an operations database (``ktrdr.db`` →
    ``ktrdr.webhooks.db``)."""
    return database_path.with_name(database_path.stem + ".webhooks.db")


class SqliteDeliveryStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(
                f"Cannot open the webhook deliveries file {path}: {exc}",
                code="store_unusable",
                details={"path": str(path)},
            ) from None
        try:
            own_exclusively(self._conn)  # as the operations database
            self._migrate()
        except sqlite3.Error as exc:
            self._conn.close()
            raise ConfigurationError(
                f"{path} is not a usable webhook deliveries file ({exc}); move it aside.",
                code="store_unusable",
                details={"path": str(path)},
            ) from None

    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"written by a newer ktrdr (schema {version})")
        self._conn.executescript(_SCHEMA)
        self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # ------------------------------------------------------------------ writes
    def add(
        self, deliveries: Sequence[port.NewDelivery], join: port.BatchJoin | None = None
    ) -> int:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                added = self._insert(deliveries)
                if join is not None:
                    added += self._insert_member(join)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return added

    def _insert(self, deliveries: Sequence[port.NewDelivery]) -> int:
        added = 0
        for new in deliveries:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO deliveries (message_id, subject_id, event_type, url, "
                "body, created_at, state, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.message_id,
                    new.subject_id,
                    new.event_type,
                    new.url,
                    new.body,
                    new.created_at,
                    port.DeliveryState.DUE.value,
                    new.created_at,
                ),
            )
            added += cursor.rowcount
        return added

    def _insert_member(self, join: port.BatchJoin) -> int:
        member = join.member
        cursor = self._conn.execute(
            "INSERT OR IGNORE INTO batch_members (batch_id, operation_id, size, item) "
            "VALUES (?, ?, ?, ?)",
            (member.batch_id, member.operation_id, member.size, member.item),
        )
        if cursor.rowcount == 0:
            return 0  # already a member: its batch was judged then
        rows = self._conn.execute(
            "SELECT batch_id, size, operation_id, item FROM batch_members WHERE batch_id = ?",
            (member.batch_id,),
        ).fetchall()
        members = [port.BatchMember(b, int(s), o, i) for b, s, o, i in rows]
        return self._insert(join.when_full(members)) if port.full_batch(members, member) else 0

    def claim_due(
        self, now: float, lease_until: float, limit: int, exclude: Iterable[int] = ()
    ) -> list[port.Delivery]:
        skipped = set(exclude)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE due_at IS NOT NULL AND due_at <= ? "
                "ORDER BY due_at, delivery_id LIMIT ?",
                (now, max(0, limit) + len(skipped)),
            ).fetchall()
            claimed = [d for d in map(_delivery, rows) if d.delivery_id not in skipped][:limit]
            if claimed:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "UPDATE deliveries SET due_at = ? WHERE delivery_id = ?",
                    [(lease_until, d.delivery_id) for d in claimed],
                )
                self._conn.execute("COMMIT")
        return claimed

    def record_attempt(
        self, delivery_id: int, attempt: port.Attempt, state: port.DeliveryState
    ) -> None:
        due = attempt.next_attempt_at if state is port.DeliveryState.DUE else None
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO attempts (delivery_id, number, started_at, seconds, "
                    "status_code, error, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        delivery_id,
                        attempt.number,
                        attempt.started_at,
                        attempt.seconds,
                        attempt.status_code,
                        attempt.error,
                        attempt.next_attempt_at,
                    ),
                )
                self._conn.execute(
                    "UPDATE deliveries SET state = ?, due_at = ?, attempts = ? "
                    "WHERE delivery_id = ?",
                    (state.value, due, attempt.number, delivery_id),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # ------------------------------------------------------------------ reads
    def next_due(self) -> float | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT MIN(due_at) FROM deliveries WHERE due_at IS NOT NULL"
            ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def for_operation(self, operation_id: str) -> list[port.DeliveryRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE subject_id = ? OR subject_id IN "
                "(SELECT batch_id FROM batch_members WHERE operation_id = ?) "
                "ORDER BY delivery_id",
                (operation_id, operation_id),
            ).fetchall()
            deliveries = [_delivery(row) for row in rows]
            attempts: dict[int, list[port.Attempt]] = {d.delivery_id: [] for d in deliveries}
            if deliveries:
                marks = ",".join("?" * len(deliveries))
                for row in self._conn.execute(
                    "SELECT delivery_id, number, started_at, seconds, status_code, error, "
                    f"next_attempt_at FROM attempts WHERE delivery_id IN ({marks}) "
                    "ORDER BY delivery_id, number",
                    [d.delivery_id for d in deliveries],
                ):
                    attempts[int(row[0])].append(port.Attempt(*row[1:]))
        return [port.DeliveryRecord(d, tuple(attempts[d.delivery_id])) for d in deliveries]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _delivery(row: tuple[Any, ...]) -> port.Delivery:
    message_id, subject_id, event_type, url, body, created_at, did, state, due, tries = row
    return port.Delivery(
        message_id=str(message_id),
        subject_id=str(subject_id),
        event_type=str(event_type),
        url=str(url),
        body=bytes(body),
        created_at=float(created_at),
        delivery_id=int(did),
        state=port.DeliveryState(state),
        due_at=float(due) if due is not None else None,
        attempts=int(tries),
    )
