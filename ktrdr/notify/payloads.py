"""What a webhook says: the Standard Webhooks envelope (``type``, ``timestamp``, ``data``)
around the operation's listing row as ``GET /operations`` serves it, and its page.

Receivers can validate a body with ``WebhookMessage.model_validate_json``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from ktrdr.contract.operations import OperationSummaryPublic
from ktrdr.operations.summary import summarize
from ktrdr.records.models import Operation, OperationStatus, utcnow

# The parameters a trigger of `agent trigger --count N` gives each of its cycles.
BATCH_ID_PARAMETER = "batch_id"
BATCH_SIZE_PARAMETER = "batch_size"


class EventType(StrEnum):
    OPERATION_COMPLETED = "operation.completed"
    OPERATION_FAILED = "operation.failed"
    OPERATION_CANCELLED = "operation.cancelled"
    BATCH_ENDED = "batch.ended"


_ENDED_AS = {
    OperationStatus.COMPLETED: EventType.OPERATION_COMPLETED,
    OperationStatus.FAILED: EventType.OPERATION_FAILED,
    OperationStatus.CANCELLED: EventType.OPERATION_CANCELLED,
}


class OperationEnded(BaseModel):
    operation: OperationSummaryPublic
    url: str  # the operation's page on the backend


class BatchEnded(BaseModel):
    batch_id: str
    size: int
    counts: dict[str, int]  # how many ended in each status
    operations: list[OperationEnded]


class WebhookMessage(BaseModel):
    type: EventType
    timestamp: datetime  # when the operation (the batch's last) ended
    data: OperationEnded | BatchEnded


def event_of(op: Operation) -> EventType | None:
    """The event an operation's version announces: only a root's end announces one."""
    if op.parent_operation_id is not None:
        return None
    return _ENDED_AS.get(op.status)


def operation_ended(op: Operation, page_url: str) -> OperationEnded:
    ended = op.completed_at or op.updated_at
    return OperationEnded(
        operation=OperationSummaryPublic.from_domain(summarize(op), ended), url=page_url
    )


def operation_message(op: Operation, page_url: str) -> WebhookMessage:
    event = event_of(op)
    if event is None:
        raise ValueError(f"{op.operation_id} is not an ended root operation")
    return WebhookMessage(
        type=event,
        timestamp=op.completed_at or op.updated_at,
        data=operation_ended(op, page_url),
    )


def batch_of(op: Operation) -> tuple[str, int] | None:
    """The batch (id, size) an operation's trigger put it in, or None."""
    params: dict[str, Any] = op.metadata.parameters
    batch, size = params.get(BATCH_ID_PARAMETER), params.get(BATCH_SIZE_PARAMETER)
    if isinstance(batch, str) and batch and isinstance(size, int) and size > 0:
        return batch, size
    return None


def batch_message(batch_id: str, size: int, items: Sequence[OperationEnded]) -> WebhookMessage:
    ordered = sorted(items, key=lambda item: item.operation.created_at)
    ends = [item.operation.completed_at for item in ordered if item.operation.completed_at]
    return WebhookMessage(
        type=EventType.BATCH_ENDED,
        timestamp=max(ends, default=utcnow()),
        data=BatchEnded(
            batch_id=batch_id,
            size=size,
            counts=dict(Counter(item.operation.status.value for item in ordered)),
            operations=list(ordered),
        ),
    )
