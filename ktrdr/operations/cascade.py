"""The cancel rules of the OperationsService: a cancel cascades to every open descendant
(also below a child that already ended), a pending operation ends at once, a running one is
asked through its token and forced after the grace period if its worker never answers.

``OperationsService`` inherits these; they run under its lock like every other change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ktrdr.logging import operation_logger
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.index import OperationIndex
from ktrdr.operations.threads import THREADS
from ktrdr.records.models import Operation, OperationMetadata, OperationStatus
from ktrdr.records.results import OperationResult

# Trees are shallow (a cycle and its jobs); a deeper chain is a bug, not a reason to loop.
MAX_DEPTH = 16


class CancelCascade:
    _lock: threading.RLock
    _index: OperationIndex
    _tokens: dict[str, CancellationToken]
    _timers: dict[str, threading.Timer]
    _closed: bool
    _grace: float
    _clock: Callable[[], datetime]

    def _require(self, operation_id: str) -> Operation:
        raise NotImplementedError

    def _record(self, op: Operation, now: datetime, **changes: Any) -> Operation:
        raise NotImplementedError

    def _end(self, op: Operation, now: datetime, **changes: Any) -> Operation:
        raise NotImplementedError

    def _cancel_children(self, op: Operation, reason: str) -> None:
        for child in [*self._index.open_children(op.operation_id), *self._open_below_ended(op)]:
            live = self._index.open_operation(child.operation_id)
            if live is not None:  # an earlier sibling's cascade may have ended it
                self._cancel_tree(live, reason)

    def _open_below_ended(self, op: Operation) -> list[Operation]:
        """Open work under ``op`` whose own parent already ended (a failed child's child
        that still runs): the open-children links do not reach it, a cancel must."""
        found = []
        for candidate in self._index.open_operations():
            parent_id = candidate.parent_operation_id
            if parent_id is None or self._index.open_operation(parent_id) is not None:
                continue  # a root, or reached through its open parent
            ancestors = self._lineage(parent_id)
            if op.operation_id in ancestors:
                found.append(candidate)
        return found

    def _lineage(self, operation_id: str) -> set[str]:
        """``operation_id`` and its ancestors' ids (ended ones read through the index)."""
        seen: set[str] = set()
        current: str | None = operation_id
        while current is not None and current not in seen and len(seen) < MAX_DEPTH:
            seen.add(current)
            node = self._index.cached(current) or self._index.load(current)
            current = node.parent_operation_id if node is not None else None
        return seen

    def _cancel_tree(self, op: Operation, reason: str) -> None:
        self._cancel_children(op, reason)
        op = self._require(op.operation_id)
        if op.is_terminal:
            return
        if op.status is OperationStatus.PENDING:
            self._tokens.setdefault(op.operation_id, CancellationToken()).cancel(reason)
            self._mark_cancelled(op, OperationResult(stopped_at="before it started").to_dict())
            return
        if op.cancel_requested:
            return
        self._tokens.setdefault(op.operation_id, CancellationToken()).cancel(reason)
        self._record(op, self._clock(), cancel_requested=True)
        operation_logger(op.operation_id).info("cancel requested", reason=reason)
        if not self._closed:
            # Watched: a timer that dies (e.g. at its wait) leaves a cancel never forced.
            timer = THREADS.timer(
                self._grace,
                self._force_cancel,
                name=f"ktrdr-cancel-timer-{op.operation_id}",
                args=(op.operation_id,),
            )
            self._timers[op.operation_id] = timer
            timer.start()

    def _force_cancel(self, operation_id: str) -> None:
        with self._lock:
            self._timers.pop(operation_id, None)
            op = self._index.open_operation(operation_id)
            if op is None:
                return
            self._mark_cancelled(
                op,
                OperationResult(
                    stopped_at=op.progress.current_step or f"{op.progress.percentage:.0f}%",
                    forced=True,
                ).to_dict(),
            )
            operation_logger(operation_id).warning("cancel not acknowledged in time; forced")

    def _mark_cancelled(
        self,
        op: Operation,
        summary: dict[str, Any],
        metadata: OperationMetadata | None = None,
    ) -> Operation:
        cancelled = self._end(
            op,
            self._clock(),
            status=OperationStatus.CANCELLED,
            cancel_requested=True,
            result_summary={**(op.result_summary or {}), **summary},
            metadata=metadata or op.metadata,
        )
        operation_logger(op.operation_id).info("operation cancelled", **summary)
        return cancelled
