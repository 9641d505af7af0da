"""What a backend restart does to work it finds open: it fails, saying where it was."""

from __future__ import annotations

from datetime import datetime

from ktrdr.records.models import Operation, OperationStatus

RESTART_MESSAGE = "Interrupted by a backend restart"


def interrupted(op: Operation, now: datetime) -> Operation:
    """``op`` (left pending or running by a backend that is gone) as failed, next version."""
    if op.status is OperationStatus.PENDING or op.started_at is None:
        where = "before it started"
    else:
        where = op.progress.current_step or "no step reported yet"
    return op.model_copy(
        update={
            "status": OperationStatus.FAILED,
            "error_message": f"{RESTART_MESSAGE} (was {op.progress.percentage:.0f}% done: {where})",
            "completed_at": now,
            "updated_at": now,
            "version": op.version + 1,
        }
    )
