"""The read side of the OperationsService: one operation, listings, trees, waiting.

Reads take the service's lock only for memory; a listing's page comes from the store
outside it (disk time never holds up a progress report). ``OperationsService`` inherits
these and adds the rules that change operations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ktrdr.errors import InvalidRequestError, OperationNotFoundError
from ktrdr.operations.changes import ChangeFeed, OperationTree, Wake
from ktrdr.operations.index import OperationIndex
from ktrdr.operations.store import OperationQuery
from ktrdr.operations.summary import summarize
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.summary import OperationSummary


class OperationReads:
    _lock: threading.RLock
    _changed: threading.Condition
    _index: OperationIndex
    _feed: ChangeFeed

    def get(self, operation_id: str) -> Operation:
        with self._lock:
            return self._require(operation_id).model_copy(deep=True)

    def peek(self, operation_id: str) -> Operation:
        """The operation as the service holds it, without a copy: for a worker that reads a
        few fields of many operations on every change (a deep copy per read would be the
        whole cost). Operations are replaced, never changed in place; never mutate it."""
        with self._lock:
            return self._require(operation_id)

    def list_operations(
        self,
        *,
        status: OperationStatus | None = None,
        operation_type: OperationType | None = None,
        parent_operation_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[OperationSummary], int]:
        """Summaries, newest first; returns the page and the total number matching."""
        if limit < 0 or offset < 0:
            raise InvalidRequestError("limit and offset must not be negative")
        query = OperationQuery(status, operation_type, parent_operation_id, limit, offset)
        if self._index.only_open_can_match(query):
            with self._lock:
                return self._index.query_open(query)
        page = self._index.store_page(query)  # outside the lock: disk time
        with self._lock:
            return self._index.overlay(page), self._index.total(query)

    def children(self, operation_id: str, limit: int = 100) -> list[OperationSummary]:
        """The newest ``limit`` children, oldest first (a cycle's training, then backtest)."""
        with self._lock:
            self._require(operation_id)
            members = self._feed.members(operation_id)
            if members is not None:
                # A tree tracked since its creation knows its members, in creation order:
                # no listing query (a monitor asks on every poll); they are in memory
                # unless long ended.
                kids = [
                    op
                    for op in map(self._require, members)
                    if op.parent_operation_id == operation_id
                ]
                return [summarize(op) for op in kids[-limit:]] if limit > 0 else []
        page, _ = self.list_operations(parent_operation_id=operation_id, limit=limit)
        return page[::-1]

    def open_operations(self) -> list[Operation]:
        """Every pending or running operation, oldest first."""
        with self._lock:
            return [op.model_copy(deep=True) for op in self._index.open_operations()]

    def count_open(self, status: OperationStatus | None = None) -> int:
        with self._lock:
            return sum(
                1 for op in self._index.open_operations() if status is None or op.status is status
            )

    def watcher_count(self) -> int:
        """How many watchers are registered (held long-polls)."""
        with self._lock:
            return self._feed.watcher_count()

    def watch(self, operation_id: str, wake: Wake) -> Callable[[], None]:
        """Call ``wake`` after every change in ``operation_id``'s tree until the returned
        function is called. ``wake`` runs under the service lock: it must only signal."""
        with self._lock:
            self._require(operation_id)
            return self._feed.watch(operation_id, wake)

    def tree(self, operation_id: str, since: int = 0) -> OperationTree:
        """The operation with all its descendants, the tree's version, and the significant
        changes after tree version ``since`` (see ``ktrdr.operations.changes``)."""
        with self._lock:
            root = self._require(operation_id)
            members = self._feed.members(operation_id)
            version, changes, complete = self._feed.journal(operation_id, since)
            if members is None:  # history: the store knows the children
                members = self._descendant_ids(operation_id)
            descendants = [self._require(i) for i in members]
            if version is None:
                version = root.version + sum(op.version for op in descendants)
                complete = since >= version
            return OperationTree(
                root.model_copy(deep=True),
                [op.model_copy(deep=True) for op in descendants],
                version,
                changes,
                complete,
            )

    def tree_status(self, operation_id: str, since: int) -> tuple[int | None, bool]:
        """Without building the tree: its version (None for an untracked, long-ended one)
        and whether more than progress changed after ``since`` (a journaled change, the
        head ended, or a journal that no longer reaches back to ``since``)."""
        with self._lock:
            root = self._require(operation_id)
            version, changes, complete = self._feed.journal(operation_id, since)
            return version, bool(changes) or root.is_terminal or not complete

    def _descendant_ids(self, operation_id: str) -> list[str]:
        found: list[str] = []
        parents = [operation_id]
        while parents and len(found) < 10_000:
            kids = [
                row.operation_id
                for parent in parents
                for row in self._index.store_page(
                    OperationQuery(parent_operation_id=parent, limit=1000)
                )[::-1]
            ]
            found.extend(kids)
            parents = kids
        return found

    def wait_for_change(self, operation_id: str, after_version: int, timeout: float) -> Operation:
        """Block (in a thread) until the operation's version exceeds ``after_version``."""

        def changed() -> bool:
            live = self._index.cached(operation_id)
            return live is None or live.version > after_version or live.is_terminal

        with self._changed:
            self._require(operation_id)
            self._changed.wait_for(changed, timeout=timeout)
            return self._require(operation_id).model_copy(deep=True)

    def _require(self, operation_id: str) -> Operation:
        op = self._index.cached(operation_id) or self._index.load(operation_id)
        if op is None:
            raise OperationNotFoundError(operation_id)
        return op
