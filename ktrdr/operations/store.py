"""Where operations persist: the store protocol, and the in-memory store for tests.

The store holds every operation ever run. The service keeps only open ones in memory
(see ``ktrdr.operations.index``); history is read from the store when asked for, through
its indexes: one operation whole, listings as summaries. ``SqliteOperationStore``
(``ktrdr.storage.sqlite_store``) is the default.

Every store keeps the newest version of a row: a save that carries an older version than
the one stored is ignored (a coalesced progress flush may arrive after a status change).

"Newest first" in a listing means the order the store first saw the operations (its own
insertion sequence), never their ``created_at``: a wall clock set back must not list new
work below old. The service saves an operation when it creates it, so the two agree.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ktrdr.operations.summary import summarize
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.summary import OperationSummary

OPEN_STATUSES = (OperationStatus.PENDING, OperationStatus.RUNNING)

# How many operations there are of each kind in each status.
Tally = dict[tuple[OperationType, OperationStatus], int]


@dataclass(frozen=True)
class OperationQuery:
    """A listing: every filter optional; newest first (by the store's insertion order)."""

    status: OperationStatus | None = None
    operation_type: OperationType | None = None
    parent_operation_id: str | None = None
    limit: int = 100
    offset: int = 0

    def matches(self, op: OperationSummary | Operation) -> bool:
        return (
            (self.status is None or op.status is self.status)
            and (self.operation_type is None or op.operation_type is self.operation_type)
            and (
                self.parent_operation_id is None
                or op.parent_operation_id == self.parent_operation_id
            )
        )


class OperationStore(Protocol):
    def load_open(self) -> list[Operation]:
        """Every pending or running operation (at start: what a restart interrupted)."""
        ...

    def get(self, operation_id: str) -> Operation | None: ...

    def save_many(self, operations: Iterable[Operation]) -> None: ...

    def page(self, query: OperationQuery) -> list[OperationSummary]:
        """One page of summaries, newest first."""
        ...

    def count(self, query: OperationQuery) -> int:
        """How many operations match ``query`` (its limit and offset aside)."""
        ...

    def tally(self) -> Tally:
        """Every operation counted by kind and status (read once, at start)."""
        ...

    def close(self) -> None: ...


class InMemoryOperationStore:
    """Keeps serialised copies, so what comes back is what a real store would give.

    Listings scan every row: fine for tests and ``--ephemeral`` backends, which never hold
    much history.
    """

    def __init__(self) -> None:
        # Insertion-ordered: a dict keeps the order its keys were first set in, and an
        # update replaces a value in place, so iterating it is the listing order, oldest first.
        self._rows: dict[str, tuple[int, str, OperationSummary]] = {}
        self._lock = threading.Lock()
        self.writes = 0

    def load_open(self) -> list[Operation]:
        with self._lock:
            return [
                Operation.model_validate_json(raw)
                for _, raw, summary in self._rows.values()
                if summary.status in OPEN_STATUSES
            ]

    def get(self, operation_id: str) -> Operation | None:
        with self._lock:
            row = self._rows.get(operation_id)
        return None if row is None else Operation.model_validate_json(row[1])

    def save_many(self, operations: Iterable[Operation]) -> None:
        with self._lock:
            for op in operations:
                current = self._rows.get(op.operation_id)
                if current is None or op.version >= current[0]:
                    self._rows[op.operation_id] = (op.version, op.model_dump_json(), summarize(op))
                self.writes += 1

    def page(self, query: OperationQuery) -> list[OperationSummary]:
        with self._lock:
            matching = [row[2] for row in reversed(self._rows.values()) if query.matches(row[2])]
        return matching[query.offset : query.offset + query.limit]

    def count(self, query: OperationQuery) -> int:
        with self._lock:
            return sum(1 for row in self._rows.values() if query.matches(row[2]))

    def tally(self) -> Tally:
        counts: Tally = {}
        with self._lock:
            for _, _, row in self._rows.values():
                key = (row.operation_type, row.status)
                counts[key] = counts.get(key, 0) + 1
        return counts

    def close(self) -> None:
        return None
