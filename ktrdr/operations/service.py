"""OperationsService: the one place where operation rules are enforced.

Rules (callers cannot break them):
- progress percentage is finite, within [0, 100] and never decreases while running;
  a running operation tops out just below 100, which only completion reaches (and sets);
- terminal statuses (completed, failed, cancelled) never change;
- cancellation is cooperative: a running operation's token is set and the worker
  acknowledges with ``finish_cancelled``; a worker that does not answer within the grace
  period is marked cancelled anyway, so nothing waits forever; cancelling a parent cancels
  its non-terminal children.

Every method is short and non-blocking (a lock and an in-memory dict), so it is safe to
call from worker threads and from the event loop alike. Status changes are written
through to the store at once; progress updates are coalesced by a background flusher.
"""

from __future__ import annotations

import bisect
import math
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ktrdr.errors import (
    ConflictError,
    InvalidRequestError,
    OperationFinishedError,
    OperationNotFoundError,
)
from ktrdr.logging import operation_logger
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.models import (
    Operation,
    OperationMetadata,
    OperationProgress,
    OperationStatus,
    OperationType,
    utcnow,
)
from ktrdr.operations.store import OperationStore

# While running, progress stops just short of 100: only completion may show 100 %.
RUNNING_PROGRESS_CAP = 99.9
RESTART_MESSAGE = "Interrupted by a backend restart"


def new_operation_id(operation_type: OperationType, now: datetime) -> str:
    return f"op_{operation_type.value}_{now:%Y%m%d_%H%M%S}_{secrets.token_hex(4)}"


class OperationsService:
    def __init__(
        self,
        store: OperationStore,
        *,
        cancel_grace_seconds: float = 3.0,
        flush_interval: float = 0.5,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._clock = clock
        self._grace = cancel_grace_seconds
        self._flush_interval = flush_interval
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._tokens: dict[str, CancellationToken] = {}
        self._dirty: set[str] = set()
        self._timers: dict[str, threading.Timer] = {}
        self._closed = False
        self._stop = threading.Event()
        try:
            loaded = store.load_all()
        except BaseException:
            store.close()  # e.g. an unreadable file: let the next owner have it
            raise
        self._ops: dict[str, Operation] = {op.operation_id: op for op in loaded}
        # Indexes, so reads stay cheap (and the lock short) however many operations exist:
        # every id in (created_at, id) order, and per type; each parent's children; and a
        # superset of the open ones (operations only ever move pending -> running ->
        # terminal, so an id is added at creation and pruned once it is found terminal).
        self._order: list[tuple[datetime, str]] = sorted(
            (op.created_at, op.operation_id) for op in loaded
        )
        self._children: dict[str, list[str]] = {}
        self._by_type: dict[OperationType, list[tuple[datetime, str]]] = {}
        for key in self._order:
            loaded_op = self._ops[key[1]]
            self._by_type.setdefault(loaded_op.operation_type, []).append(key)
            if loaded_op.parent_operation_id is not None:
                self._children.setdefault(loaded_op.parent_operation_id, []).append(key[1])
        self._open: set[str] = {op.operation_id for op in loaded if not op.is_terminal}
        self.recovered: list[str] = self._recover_interrupted()
        self._flusher: threading.Thread | None = None
        if flush_interval > 0:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="ktrdr-operations-flusher", daemon=True
            )
            self._flusher.start()

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
            self._ops[op.operation_id] = op
            bisect.insort(self._order, (op.created_at, op.operation_id))
            bisect.insort(
                self._by_type.setdefault(operation_type, []), (op.created_at, op.operation_id)
            )
            if parent_operation_id is not None:
                siblings = self._children.setdefault(parent_operation_id, [])
                bisect.insort(siblings, op.operation_id, key=self._creation_key)
            self._open.add(op.operation_id)
            self._tokens[op.operation_id] = CancellationToken()
            self._persist_now(op)
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
            op.status = OperationStatus.RUNNING
            op.started_at = now
            self._touch(op, now)
            self._persist_now(op)
            operation_logger(operation_id).info("operation started")
            return op.model_copy(deep=True)

    def update_progress(
        self,
        operation_id: str,
        percentage: float,
        current_step: str | None = None,
        *,
        items_processed: int | None = None,
        items_total: int | None = None,
        context: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Operation:
        """Record progress; ``parameters`` (if given) merge into metadata in the same change."""
        with self._lock:
            op = self._apply_progress(
                operation_id,
                percentage,
                current_step,
                items_processed,
                items_total,
                context,
                parameters,
            )
            return op.model_copy(deep=True)

    def report_progress(
        self,
        operation_id: str,
        percentage: float,
        current_step: str | None = None,
        *,
        items_processed: int | None = None,
        items_total: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> int:
        """``update_progress`` for hot loops: same rules, returns only the new version
        (copying the whole operation back costs more than the update itself)."""
        with self._lock:
            return self._apply_progress(
                operation_id,
                percentage,
                current_step,
                items_processed,
                items_total,
                context,
                None,
            ).version

    def _apply_progress(
        self,
        operation_id: str,
        percentage: float,
        current_step: str | None,
        items_processed: int | None,
        items_total: int | None,
        context: Mapping[str, Any] | None,
        parameters: Mapping[str, Any] | None,
    ) -> Operation:
        if not isinstance(percentage, int | float) or not math.isfinite(percentage):
            raise InvalidRequestError(f"percentage must be a finite number, got {percentage!r}")
        if percentage < 0 or percentage > 100:
            raise InvalidRequestError(f"percentage must be within [0, 100], got {percentage}")
        op = self._require(operation_id)
        self._refuse_if_terminal(op, "update progress of")
        if op.status is not OperationStatus.RUNNING:
            raise ConflictError(
                f"Operation {operation_id} is not running (status {op.status.value})",
                code="operation_not_running",
                details={"operation_id": operation_id},
            )
        capped = min(float(percentage), RUNNING_PROGRESS_CAP)
        op.progress = OperationProgress(
            percentage=max(op.progress.percentage, capped),
            current_step=current_step if current_step is not None else op.progress.current_step,
            items_processed=items_processed,
            items_total=items_total,
            context=dict(context) if context is not None else op.progress.context,
        )
        if parameters:
            op.metadata.parameters.update(parameters)
        self._touch(op, self._clock())
        if parameters:
            self._persist_now(op)
        else:
            self._persist_later(op)
        return op

    def update_parameters(self, operation_id: str, parameters: Mapping[str, Any]) -> Operation:
        """Merge ``parameters`` into ``metadata.parameters``."""
        with self._lock:
            op = self._require(operation_id)
            self._refuse_if_terminal(op, "change metadata of")
            op.metadata.parameters.update(parameters)
            self._touch(op, self._clock())
            self._persist_now(op)
            return op.model_copy(deep=True)

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
            self._refuse_if_terminal(op, "complete")
            if op.status is not OperationStatus.RUNNING:
                raise ConflictError(
                    f"Operation {operation_id} cannot complete before it starts",
                    code="operation_not_running",
                    details={"operation_id": operation_id},
                )
            now = self._clock()
            op.status = OperationStatus.COMPLETED
            op.progress = op.progress.model_copy(
                update={
                    "percentage": 100.0,
                    "current_step": current_step or op.progress.current_step,
                    "context": dict(context) if context is not None else op.progress.context,
                }
            )
            op.result_summary = dict(result_summary or {})
            op.metadata.parameters.update(parameters or {})
            op.completed_at = now
            self._touch(op, now)
            self._settle(op)
            operation_logger(operation_id).info("operation completed")
            return op.model_copy(deep=True)

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
            now = self._clock()
            op.status = OperationStatus.FAILED
            op.error_message = error_message
            if result_summary is not None:
                op.result_summary = dict(result_summary)
            op.metadata.parameters.update(parameters or {})
            op.completed_at = now
            self._touch(op, now)
            self._settle(op)
            operation_logger(operation_id).warning("operation failed", error=error_message)
            return op.model_copy(deep=True)

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
            return op.model_copy(deep=True)

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
            if stopped_at:
                summary.setdefault("stopped_at", stopped_at)
            op.metadata.parameters.update(parameters or {})
            # A worker may stop on its own (no cancel() before): its children must not
            # outlive it, and a later cancel() of a cancelled parent no longer cascades.
            self._cancel_children(op, "Parent operation was cancelled")
            self._mark_cancelled(op, summary)
            return op.model_copy(deep=True)

    # ------------------------------------------------------------------ reads
    def get(self, operation_id: str) -> Operation:
        with self._lock:
            return self._require(operation_id).model_copy(deep=True)

    def list_operations(
        self,
        *,
        status: OperationStatus | None = None,
        operation_type: OperationType | None = None,
        parent_operation_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Operation], int]:
        """Newest first; returns the page and the total number matching."""
        if limit < 0 or offset < 0:
            raise InvalidRequestError("limit and offset must not be negative")
        with self._lock:
            if status is None and operation_type is None and parent_operation_id is None:
                end = max(len(self._order) - offset, 0)
                newest_first = reversed(self._order[max(end - limit, 0) : end])
                page = [self._ops[i].model_copy(deep=True) for _, i in newest_first]
                return page, len(self._order)
            candidates: Iterable[str]
            if status in (OperationStatus.PENDING, OperationStatus.RUNNING):
                self._open = {i for i in self._open if not self._ops[i].is_terminal}
                candidates = sorted(self._open, key=self._creation_key, reverse=True)
            elif parent_operation_id is not None:
                candidates = reversed(self._children.get(parent_operation_id, []))
            elif operation_type is not None:
                of_type = self._by_type.get(operation_type, [])
                if status is None:
                    end = max(len(of_type) - offset, 0)
                    newest_first = reversed(of_type[max(end - limit, 0) : end])
                    page = [self._ops[i].model_copy(deep=True) for _, i in newest_first]
                    return page, len(of_type)
                candidates = (operation_id for _, operation_id in reversed(of_type))
            else:
                candidates = (operation_id for _, operation_id in reversed(self._order))
            page, total = [], 0
            for op in map(self._ops.__getitem__, candidates):
                if (
                    (status is None or op.status is status)
                    and (operation_type is None or op.operation_type is operation_type)
                    and (parent_operation_id in (None, op.parent_operation_id))
                ):
                    if offset <= total < offset + limit:
                        page.append(op.model_copy(deep=True))
                    total += 1
            return page, total

    def children(self, operation_id: str) -> list[Operation]:
        with self._lock:
            self._require(operation_id)
            kids = self._children.get(operation_id, [])
            return [self._ops[i].model_copy(deep=True) for i in kids]

    def token(self, operation_id: str) -> CancellationToken:
        with self._lock:
            op = self._require(operation_id)
            token = self._tokens.setdefault(operation_id, CancellationToken())
            if op.cancel_requested or op.status is OperationStatus.CANCELLED:
                token.cancel("Cancelled")
            return token

    def wait_for_change(self, operation_id: str, after_version: int, timeout: float) -> Operation:
        """Block (in a thread) until the operation's version exceeds ``after_version``."""
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    self._require(operation_id).version > after_version
                    or self._require(operation_id).is_terminal
                ),
                timeout=timeout,
            )
            return self._require(operation_id).model_copy(deep=True)

    # ------------------------------------------------------------------ shutdown
    def flush(self) -> None:
        with self._lock:
            ids = set(self._dirty)
            self._dirty.clear()
            batch = [self._ops[i].model_copy(deep=True) for i in ids if i in self._ops]
        try:
            self._store.save_many(batch)
        except Exception:
            with self._lock:
                self._dirty |= ids  # retried on the next pass; memory stays authoritative
            raise

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            for timer in self._timers.values():
                timer.cancel()
            self._changed.notify_all()
        if self._flusher is not None:
            self._flusher.join(timeout=2)
        self.flush()
        self._store.close()

    # ------------------------------------------------------------------ internals
    def _require(self, operation_id: str) -> Operation:
        op = self._ops.get(operation_id)
        if op is None:
            raise OperationNotFoundError(operation_id)
        return op

    @staticmethod
    def _refuse_if_terminal(op: Operation, action: str) -> None:
        if op.is_terminal:
            raise OperationFinishedError(
                f"Cannot {action} operation {op.operation_id}: it is already {op.status.value}",
                details={"operation_id": op.operation_id, "status": op.status.value},
            )

    def _creation_key(self, operation_id: str) -> tuple[datetime, str]:
        return (self._ops[operation_id].created_at, operation_id)

    def _touch(self, op: Operation, now: datetime) -> None:
        op.updated_at = now
        op.version += 1
        self._changed.notify_all()

    def _persist_now(self, op: Operation) -> None:
        self._dirty.discard(op.operation_id)
        self._store.save_many([op.model_copy(deep=True)])

    def _persist_later(self, op: Operation) -> None:
        if self._flush_interval <= 0:
            self._persist_now(op)
        else:
            self._dirty.add(op.operation_id)

    def _settle(self, op: Operation) -> None:
        timer = self._timers.pop(op.operation_id, None)
        if timer is not None:
            timer.cancel()
        self._persist_now(op)

    def _cancel_children(self, op: Operation, reason: str) -> None:
        for child in [self._ops[i] for i in self._children.get(op.operation_id, [])]:
            if not child.is_terminal:
                self._cancel_tree(child, reason)

    def _cancel_tree(self, op: Operation, reason: str) -> None:
        self._cancel_children(op, reason)
        if op.status is OperationStatus.PENDING:
            self._tokens.setdefault(op.operation_id, CancellationToken()).cancel(reason)
            self._mark_cancelled(op, {"stopped_at": "before it started"})
            return
        if op.cancel_requested:
            return
        op.cancel_requested = True
        self._tokens.setdefault(op.operation_id, CancellationToken()).cancel(reason)
        self._touch(op, self._clock())
        self._persist_now(op)
        operation_logger(op.operation_id).info("cancel requested", reason=reason)
        if not self._closed:
            timer = threading.Timer(self._grace, self._force_cancel, args=(op.operation_id,))
            timer.daemon = True
            self._timers[op.operation_id] = timer
            timer.start()

    def _force_cancel(self, operation_id: str) -> None:
        with self._lock:
            op = self._ops.get(operation_id)
            self._timers.pop(operation_id, None)
            if op is None or op.is_terminal:
                return
            self._mark_cancelled(
                op,
                {
                    "stopped_at": op.progress.current_step or f"{op.progress.percentage:.0f}%",
                    "forced": True,
                },
            )
            operation_logger(operation_id).warning("cancel not acknowledged in time; forced")

    def _mark_cancelled(self, op: Operation, summary: dict[str, Any]) -> None:
        now = self._clock()
        op.status = OperationStatus.CANCELLED
        op.cancel_requested = True
        op.result_summary = {**(op.result_summary or {}), **summary}
        op.completed_at = now
        self._touch(op, now)
        self._settle(op)
        operation_logger(op.operation_id).info("operation cancelled", **summary)

    def _recover_interrupted(self) -> list[str]:
        now = self._clock()
        recovered: list[str] = []
        for op in self._ops.values():
            if op.is_terminal:
                continue
            if op.status is OperationStatus.PENDING or op.started_at is None:
                where = "before it started"
            else:
                where = op.progress.current_step or "no step reported yet"
            op.status = OperationStatus.FAILED
            op.error_message = (
                f"{RESTART_MESSAGE} (was {op.progress.percentage:.0f}% done: {where})"
            )
            op.completed_at = now
            op.updated_at = now
            op.version += 1
            recovered.append(op.operation_id)
        if recovered:
            self._store.save_many([self._ops[i] for i in recovered])
        return recovered

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._flush_interval):
            try:
                self.flush()
            except Exception as exc:  # keep flushing; the next pass retries the same rows
                operation_logger("-").error("progress flush failed", error=str(exc))
