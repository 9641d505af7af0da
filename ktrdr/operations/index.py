"""Where the service finds operations: open ones in memory, history in the store.

Open (pending or running) operations live here, authoritative and always current; they
are few, however long the history. An operation that ends moves to a small LRU cache of
recently ended ones (a monitor reads its cycle's last child right after it ends) and is
otherwise read from the store when asked for. Listings ask the store, through its
indexes, and lay the live copies of open operations over what it returns (the store may
hold a coalesced, slightly older progress).

It also keeps how many operations there are of each kind in each status (read from the
store once, then kept up to date here), so a listing's total never counts rows on disk.

Open operations are kept in the order they were first put here, which is the order the
service created them in (it puts each one before saving it): the same order as the
store's insertion sequence, and unlike ``created_at`` immune to a clock set back.

Not thread-safe on its own: the service calls it under its lock, except ``store_page``,
which touches only the store (so a slow disk never holds up progress reports).
"""

from __future__ import annotations

from collections import OrderedDict

from ktrdr.operations.store import OPEN_STATUSES, OperationQuery, OperationStore, Tally
from ktrdr.operations.summary import summarize
from ktrdr.records.models import Operation
from ktrdr.records.summary import OperationSummary

RECENT_CACHE_SIZE = 256


class OperationIndex:
    def __init__(self, store: OperationStore, *, cache_size: int = RECENT_CACHE_SIZE) -> None:
        self._store = store
        self._cache_size = cache_size
        self._open: dict[str, Operation] = {}  # in creation order (dicts keep insertion order)
        self._open_children: dict[str, list[str]] = {}  # parent -> open children, by creation
        self._recent: OrderedDict[str, Operation] = OrderedDict()
        self._tally: Tally = store.tally()

    # ------------------------------------------------------------------ changes
    def put(self, op: Operation) -> None:
        """Remember the newest snapshot of ``op`` (open: here; ended: the recent cache)."""
        operation_id = op.operation_id
        before = self._open.get(operation_id)
        if before is None or before.status is not op.status:
            self._count(op, +1)
            if before is not None:
                self._count(before, -1)
        if not op.is_terminal:
            is_new = operation_id not in self._open
            self._open[operation_id] = op
            if is_new and op.parent_operation_id is not None:
                self._open_children.setdefault(op.parent_operation_id, []).append(operation_id)
            return
        if self._open.pop(operation_id, None) is not None and op.parent_operation_id:
            siblings = self._open_children.get(op.parent_operation_id, [])
            if operation_id in siblings:
                siblings.remove(operation_id)
            if not siblings:
                self._open_children.pop(op.parent_operation_id, None)
        self._remember(op)

    def forget(self, operation_id: str) -> None:
        """Undo a creation that never reached the store."""
        op = self._open.pop(operation_id, None)
        if op is not None:
            self._count(op, -1)
        if op is not None and op.parent_operation_id:
            siblings = self._open_children.get(op.parent_operation_id, [])
            if operation_id in siblings:
                siblings.remove(operation_id)
        self._recent.pop(operation_id, None)

    def _count(self, op: Operation, change: int) -> None:
        key = (op.operation_type, op.status)
        self._tally[key] = self._tally.get(key, 0) + change

    def _remember(self, op: Operation) -> None:
        self._recent[op.operation_id] = op
        self._recent.move_to_end(op.operation_id)
        while len(self._recent) > self._cache_size:
            self._recent.popitem(last=False)

    # ------------------------------------------------------------------ reads
    def open_operation(self, operation_id: str) -> Operation | None:
        return self._open.get(operation_id)

    def cached(self, operation_id: str) -> Operation | None:
        """The operation if it is in memory (open, or recently ended); never reads the store."""
        op = self._open.get(operation_id)
        if op is not None:
            return op
        op = self._recent.get(operation_id)
        if op is not None:
            self._recent.move_to_end(operation_id)
        return op

    def load(self, operation_id: str) -> Operation | None:
        """Read an ended operation from the store and keep it in the recent cache."""
        op = self._store.get(operation_id)
        if op is not None and op.is_terminal:
            self._remember(op)
        return op

    def open_operations(self) -> list[Operation]:
        """Every open operation, oldest first."""
        return list(self._open.values())

    def open_children(self, operation_id: str) -> list[Operation]:
        return [self._open[i] for i in self._open_children.get(operation_id, [])]

    def query_open(self, query: OperationQuery) -> tuple[list[OperationSummary], int]:
        """A listing that only open operations can match, answered from memory."""
        matching = [op for op in reversed(self._open.values()) if query.matches(op)]
        page = matching[query.offset : query.offset + query.limit]
        return [summarize(op) for op in page], len(matching)

    def store_page(self, query: OperationQuery) -> list[OperationSummary]:
        return self._store.page(query)

    def total(self, query: OperationQuery) -> int:
        """How many operations match ``query``: from the tally, or for one parent's
        children (a handful) from the store."""
        if query.parent_operation_id is not None:
            return self._store.count(query)
        return sum(
            n
            for (kind, status), n in self._tally.items()
            if (query.operation_type is None or kind is query.operation_type)
            and (query.status is None or status is query.status)
        )

    def overlay(self, page: list[OperationSummary]) -> list[OperationSummary]:
        """``page`` with every row that memory holds newer replaced by the live copy."""
        fresh: list[OperationSummary] = []
        for row in page:
            live = self._open.get(row.operation_id) or self._recent.get(row.operation_id)
            fresh.append(
                summarize(live) if live is not None and live.version > row.version else row
            )
        return fresh

    @staticmethod
    def only_open_can_match(query: OperationQuery) -> bool:
        return query.status in OPEN_STATUSES
