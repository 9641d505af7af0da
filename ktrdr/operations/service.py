"""OperationsService: the one place where operation rules are enforced.

Rules (callers cannot break them):
- progress percentage is finite, within [0, 100] and never decreases while running;
  a running operation tops out just below 100, which only completion reaches (and sets);
- terminal statuses (completed, failed, cancelled) never change;
- cancellation is cooperative: a running operation's token is set and the worker
  acknowledges with ``finish_cancelled``; a worker that does not answer within the grace
  period is marked cancelled anyway, so nothing waits forever; cancelling a parent cancels
  its non-terminal children;
- a stop (a restart finding open work, a shutdown ending it) ends an acknowledged cancel
  cancelled and the rest failed; once shutting down, no new operation is created.

Where operations are kept is the index's business (open ones in memory, history in the
store); how often they reach the disk is the store's (``WriteBehindStore`` coalesces).
Every change builds a new immutable ``Operation`` with the next version. Every method is
short and non-blocking, so it is safe from worker threads and the event loop alike.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ktrdr.errors import (
    ConflictError,
    InvalidRequestError,
    OperationFinishedError,
)
from ktrdr.logging import operation_logger
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.cascade import MAX_DEPTH, CancelCascade
from ktrdr.operations.changes import ChangeFeed
from ktrdr.operations.index import RECENT_CACHE_SIZE, OperationIndex
from ktrdr.operations.progress import ProgressUpdate
from ktrdr.operations.reads import OperationReads
from ktrdr.operations.recovery import recover
from ktrdr.operations.shutdown import ShutdownRules
from ktrdr.operations.store import OperationStore
from ktrdr.records.models import (
    Operation,
    OperationMetadata,
    OperationProgress,
    OperationStatus,
    OperationType,
    new_operation_id,
    utcnow,
)
from ktrdr.records.results import OperationResult

# While running, progress stops just short of 100: only completion may show 100 %.
RUNNING_PROGRESS_CAP = 99.9
# Something that wants every new version of every operation (e.g. the training history).
# Called under the service's lock: it must only touch memory and return quickly.
OperationListener = Callable[[Operation], None]


class OperationsService(OperationReads, CancelCascade, ShutdownRules):
    def __init__(
        self,
        store: OperationStore,
        *,
        cancel_grace_seconds: float = 3.0,
        clock: Callable[[], datetime] = utcnow,
        cache_size: int = RECENT_CACHE_SIZE,
    ) -> None:
        self._store = store
        self._clock = clock
        self._grace = cancel_grace_seconds
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._tokens: dict[str, CancellationToken] = {}
        self._timers: dict[str, threading.Timer] = {}
        # The highest percentage each running operation has reported. The stored one is
        # capped (RUNNING_PROGRESS_CAP), so it cannot tell a late 99.95 % from a newer 100 %.
        self._reported_high: dict[str, float] = {}
        self._closed = False
        self._shutting_down = False
        self._feed = ChangeFeed()
        self._listeners: list[OperationListener] = []
        try:
            interrupted = store.load_open()
            self.recovered: list[str] = self._recover_interrupted(interrupted)
            self._index = OperationIndex(store, cache_size=cache_size)
        except BaseException:
            store.close()  # e.g. an unreadable file: let the next owner have it
            raise

    # ------------------------------------------------------------------ lifecycle
    def create(
        self,
        operation_type: OperationType,
        *,
        parent_operation_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Operation:
        now = self._clock()
        with self._lock:
            self._refuse_if_shutting_down()
            if parent_operation_id is not None:
                parent = self._require(parent_operation_id)
                if parent.is_terminal:
                    raise OperationFinishedError(
                        f"Parent operation {parent_operation_id} is already {parent.status.value}",
                        details={"operation_id": parent_operation_id},
                    )
                if parent.cancel_requested:
                    # A child started now would miss the cancel that already cascaded.
                    raise ConflictError(
                        f"Parent operation {parent_operation_id} is being cancelled",
                        code="parent_cancelling",
                        details={"operation_id": parent_operation_id},
                    )
            op = Operation(
                operation_id=new_operation_id(operation_type, now),
                operation_type=operation_type,
                parent_operation_id=parent_operation_id,
                created_at=now,
                updated_at=now,
                metadata=OperationMetadata(parameters=dict(parameters or {})),
            )
            self._index.put(op)
            try:
                self._store.save_many([op])
            except Exception:
                self._index.forget(op.operation_id)  # nothing of it exists: undo it whole
                raise
            self._tokens[op.operation_id] = CancellationToken()
            self._feed.record(self._path(op), None)
            self._changed.notify_all()
            operation_logger(op.operation_id).info(
                "operation created", operation_type=operation_type.value
            )
            return op.model_copy(deep=True)

    def start(self, operation_id: str) -> Operation:
        with self._lock:
            op = self._require(operation_id)
            if op.status is not OperationStatus.PENDING:
                self._refuse_if_terminal(op, "start")
                raise ConflictError(
                    f"Operation {operation_id} is already {op.status.value}",
                    code="operation_not_pending",
                    details={"operation_id": operation_id, "status": op.status.value},
                )
            now = self._clock()
            started = self._record(
                op, now, status=OperationStatus.RUNNING, started_at=now, last_progress_at=now
            )
            operation_logger(operation_id).info("operation started")
            return started.model_copy(deep=True)

    def update_progress(
        self,
        operation_id: str,
        update: ProgressUpdate,
        *,
        parameters: Mapping[str, Any] | None = None,
    ) -> int:
        """Record progress (``parameters``, if given, merge into metadata in the same
        change); returns the operation's new version. Hot path: no copy is made."""
        percentage = update.percentage
        if not isinstance(percentage, int | float) or not math.isfinite(percentage):
            raise InvalidRequestError(f"percentage must be a finite number, got {percentage!r}")
        if percentage < 0 or percentage > 100:
            raise InvalidRequestError(f"percentage must be within [0, 100], got {percentage}")
        with self._lock:
            op = self._index.open_operation(operation_id) or self._require(operation_id)
            self._refuse_unless_running(op, "update progress of", "it is not running")
            last = op.progress
            high = max(self._reported_high.get(operation_id, 0.0), last.percentage)
            if float(percentage) < high:
                # A late report (a remote worker's, or a retried job's first steps): it is
                # a sign of life, but its step and figures are older than the ones shown.
                progress = last
            else:
                self._reported_high[operation_id] = float(percentage)
                progress = OperationProgress.model_construct(
                    percentage=min(float(percentage), RUNNING_PROGRESS_CAP),
                    current_step=(
                        update.current_step
                        if update.current_step is not None
                        else last.current_step
                    ),
                    items_processed=update.items_processed,
                    items_total=update.items_total,
                    context=dict(update.context) if update.context is not None else last.context,
                )
            now = self._clock()
            changes: dict[str, Any] = {"progress": progress, "last_progress_at": now}
            if parameters:
                changes["metadata"] = op.metadata.merged(parameters)
            return self._record(op, now, **changes).version

    def update_parameters(self, operation_id: str, parameters: Mapping[str, Any]) -> Operation:
        """Merge ``parameters`` into ``metadata.parameters``."""
        with self._lock:
            op = self._require(operation_id)
            self._refuse_if_terminal(op, "change metadata of")
            changed = self._record(op, self._clock(), metadata=op.metadata.merged(parameters))
            return changed.model_copy(deep=True)

    def complete(
        self,
        operation_id: str,
        result_summary: Mapping[str, Any] | None = None,
        *,
        parameters: Mapping[str, Any] | None = None,
        current_step: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Operation:
        """End a running operation at 100 %; ``context``, when given, replaces the last one."""
        with self._lock:
            op = self._require(operation_id)
            self._refuse_unless_running(op, "complete", "it has not started")
            now = self._clock()
            progress = op.progress.model_copy(
                update={
                    "percentage": 100.0,
                    "current_step": current_step or op.progress.current_step,
                    "context": dict(context) if context is not None else op.progress.context,
                }
            )
            done = self._end(
                op,
                now,
                status=OperationStatus.COMPLETED,
                progress=progress,
                result_summary=dict(result_summary or {}),
                metadata=op.metadata.merged(parameters),
            )
            operation_logger(operation_id).info("operation completed")
            return done.model_copy(deep=True)

    def fail(
        self,
        operation_id: str,
        error_message: str,
        result_summary: Mapping[str, Any] | None = None,
        *,
        parameters: Mapping[str, Any] | None = None,
    ) -> Operation:
        with self._lock:
            op = self._require(operation_id)
            self._refuse_if_terminal(op, "fail")
            changes: dict[str, Any] = {
                "status": OperationStatus.FAILED,
                "error_message": error_message,
                "metadata": op.metadata.merged(parameters),
            }
            if result_summary is not None:
                changes["result_summary"] = dict(result_summary)
            failed = self._end(op, self._clock(), **changes)
            operation_logger(operation_id).warning("operation failed", error=error_message)
            return failed.model_copy(deep=True)

    def cancel(self, operation_id: str, reason: str = "Cancelled by user") -> Operation:
        """Ask an operation (and its non-terminal children) to stop.

        Idempotent on an operation already cancelling or cancelled; a completed or failed
        one raises ``OperationFinishedError``.
        """
        with self._lock:
            op = self._require(operation_id)
            if op.status is OperationStatus.CANCELLED:
                return op.model_copy(deep=True)
            self._refuse_if_terminal(op, "cancel")
            self._cancel_tree(op, reason)
            return self._require(operation_id).model_copy(deep=True)

    def finish_cancelled(
        self,
        operation_id: str,
        *,
        stopped_at: str | None = None,
        result_summary: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Operation:
        """A worker acknowledges its cancel and records where its work stopped."""
        with self._lock:
            op = self._require(operation_id)
            if op.status is OperationStatus.CANCELLED:
                return op.model_copy(deep=True)
            self._refuse_if_terminal(op, "cancel")
            summary = dict(result_summary or {})
            if stopped_at:  # the worker's own result_summary may say it more precisely
                summary = {**OperationResult(stopped_at=stopped_at).to_dict(), **summary}
            # A worker may stop on its own (no cancel() before): its children must not
            # outlive it, and a later cancel() of a cancelled parent no longer cascades.
            self._cancel_children(op, "Parent operation was cancelled")
            op = self._require(operation_id)
            cancelled = self._mark_cancelled(op, summary, op.metadata.merged(parameters))
            return cancelled.model_copy(deep=True)

    # ------------------------------------------------------------------ cancellation
    def token(self, operation_id: str) -> CancellationToken:
        with self._lock:
            op = self._require(operation_id)
            token = self._tokens.get(operation_id) or CancellationToken()
            if not op.is_terminal:
                self._tokens[operation_id] = token
            if op.cancel_requested or op.status is OperationStatus.CANCELLED:
                token.cancel("Cancelled")
            return token

    # ------------------------------------------------------------------ listeners
    def add_listener(self, listener: OperationListener) -> None:
        """Call ``listener`` with each new version of any operation, as it is recorded (in
        order, under the service's lock; a failing listener is logged, never the caller's
        problem)."""
        with self._lock:
            self._listeners.append(listener)

    # ------------------------------------------------------------------ shutdown
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for timer in self._timers.values():
                timer.cancel()
            self._changed.notify_all()
        self._store.close()

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _refuse_if_terminal(op: Operation, action: str) -> None:
        if op.is_terminal:
            raise OperationFinishedError(
                f"Cannot {action} operation {op.operation_id}: it is already {op.status.value}",
                details={"operation_id": op.operation_id, "status": op.status.value},
            )

    @classmethod
    def _refuse_unless_running(cls, op: Operation, action: str, why: str) -> None:
        cls._refuse_if_terminal(op, action)
        if op.status is not OperationStatus.RUNNING:
            raise ConflictError(
                f"Cannot {action} operation {op.operation_id}: {why} (status {op.status.value})",
                code="operation_not_running",
                details={"operation_id": op.operation_id, "status": op.status.value},
            )

    def _record(self, op: Operation, now: datetime, **changes: Any) -> Operation:
        """Make ``changes`` the operation's next version: keep it, persist it, wake waiters."""
        new = op.model_copy(update={**changes, "updated_at": now, "version": op.version + 1})
        self._index.put(new)
        self._store.save_many([new])
        self._feed.record(self._path(new), op)
        for listener in self._listeners:
            try:
                listener(new)
            except Exception:  # a reader's bug must not fail the worker's report
                operation_logger(new.operation_id).exception("operation listener failed")
        self._changed.notify_all()
        return new

    def _end(self, op: Operation, now: datetime, **changes: Any) -> Operation:
        """Record a terminal change; the operation's cancel timer and token are done with."""
        timer = self._timers.pop(op.operation_id, None)
        if timer is not None:
            timer.cancel()
        self._tokens.pop(op.operation_id, None)
        self._reported_high.pop(op.operation_id, None)
        return self._record(op, now, completed_at=now, **changes)

    def _recover_interrupted(self, found_open: list[Operation]) -> list[str]:
        # Acknowledged cancels come back cancelled, the rest failed (see recovery).
        ended = recover(found_open, self._clock(), self._store.get)
        if ended:
            self._store.save_many(ended)
        return [op.operation_id for op in ended]

    def _path(self, op: Operation) -> list[Operation]:
        """``op`` and its ancestors, nearest first (as far as memory holds them: the
        ancestors of open work are open)."""
        path = [op]
        parent = op.parent_operation_id
        while parent is not None and len(path) < MAX_DEPTH:
            node = self._index.cached(parent)
            if node is None:
                break
            path.append(node)
            parent = node.parent_operation_id
        return path
