"""What a stop does to work left open: a restart finds it on disk, a clean shutdown ends it
in memory. The rule is the same for both: work someone asked to cancel (it, or an operation
above it) ends CANCELLED, as the API acknowledged; the rest fails, saying where it was."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ktrdr.records.models import Operation, OperationStatus
from ktrdr.records.results import OperationResult

RESTART_MESSAGE = "Interrupted by a backend restart"
SHUTDOWN_MESSAGE = "Interrupted by a backend shutdown"


@dataclass(frozen=True)
class Stop:
    """A kind of stop, as the records say it: the failure's message, the cancel's reason."""

    message: str
    reason: str


RESTART = Stop(RESTART_MESSAGE, "The backend restarted before the work acknowledged the cancel")
SHUTDOWN = Stop(SHUTDOWN_MESSAGE, "The backend shut down before the work acknowledged the cancel")
# Trees are shallow (a cycle and its jobs); a deeper chain is a bug, not a reason to loop.
_MAX_DEPTH = 16

# An operation by id, or None when it is not known (ancestors that already ended).
Lookup = Callable[[str], Operation | None]


def _where(op: Operation) -> str:
    if op.status is OperationStatus.PENDING or op.started_at is None:
        return "before it started"
    return op.progress.current_step or "no step reported yet"


def cancel_was_requested(op: Operation, lookup: Lookup) -> bool:
    """Whether ``op`` or one of its ancestors was asked to cancel (or ended cancelled): the
    API answered that cancel, so a stop must not turn it into a failure."""
    node: Operation | None = op
    for _ in range(_MAX_DEPTH):
        if node is None:
            return False
        if node.cancel_requested or node.status is OperationStatus.CANCELLED:
            return True
        parent = node.parent_operation_id
        node = lookup(parent) if parent is not None else None
    return False


def stop_changes(op: Operation, cancelled: bool, stop: Stop) -> dict[str, Any]:
    """The fields that end ``op`` at ``stop``: cancelled (where it stopped, and why) or
    failed (the stop's message and where it was)."""
    if cancelled:
        summary = OperationResult(stopped_at=_where(op), reason=stop.reason).to_dict()
        return {
            "status": OperationStatus.CANCELLED,
            "cancel_requested": True,
            "result_summary": {**(op.result_summary or {}), **summary},
        }
    return {
        "status": OperationStatus.FAILED,
        "error_message": f"{stop.message} (was {op.progress.percentage:.0f}% done: {_where(op)})",
    }


def recover(found_open: Iterable[Operation], now: datetime, lookup: Lookup) -> list[Operation]:
    """What a restart makes of the operations a dead backend left open, next versions.
    ``lookup`` finds the ancestors that are no longer open (read from the store)."""
    found = list(found_open)
    by_id = {op.operation_id: op for op in found}

    def ancestor(operation_id: str) -> Operation | None:
        return by_id.get(operation_id) or lookup(operation_id)

    return [
        _ended(op, now, stop_changes(op, cancel_was_requested(op, ancestor), RESTART))
        for op in found
    ]


def _ended(op: Operation, now: datetime, changes: dict[str, Any]) -> Operation:
    return op.model_copy(
        update={**changes, "completed_at": now, "updated_at": now, "version": op.version + 1}
    )
