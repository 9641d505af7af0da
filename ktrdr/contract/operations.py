"""Operations on the wire: an operation, a listing row, a tree with its changes, health,
the answer to a start request, and the envelopes around them (plain pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.summary import OperationSummary

T = TypeVar("T")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    success: bool = False
    error: ErrorBody


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T


class PageEnvelope(BaseModel, Generic[T]):
    success: bool = True
    data: list[T]
    total: int
    limit: int
    offset: int


class OperationChildPublic(BaseModel):
    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    percentage: float


class OperationPublic(Operation):
    """An operation as served; ``children`` is filled on single-operation reads."""

    children: list[OperationChildPublic] = Field(default_factory=list)
    elapsed_seconds: float | None = None

    @classmethod
    def from_domain(
        cls,
        op: Operation,
        children: list[OperationSummary] | None = None,
        now: datetime | None = None,
    ) -> OperationPublic:
        return cls(
            **op.model_dump(),
            elapsed_seconds=_elapsed(op.started_at, op.completed_at, now or op.updated_at),
            children=[
                OperationChildPublic(
                    operation_id=c.operation_id,
                    operation_type=c.operation_type,
                    status=c.status,
                    percentage=c.percentage,
                )
                for c in children or []
            ],
        )


class OperationSummaryPublic(OperationSummary):
    """One row of a listing: the summary projection (the whole operation is one GET away)."""

    elapsed_seconds: float | None = None

    @classmethod
    def from_domain(cls, row: OperationSummary, now: datetime) -> OperationSummaryPublic:
        return cls(
            **row.model_dump(),
            elapsed_seconds=_elapsed(row.started_at, row.completed_at, now),
        )


def _elapsed(started: datetime | None, completed: datetime | None, now: datetime) -> float | None:
    if started is None:
        return None
    return max(0.0, ((completed or now) - started).total_seconds())


class HealthPublic(BaseModel):
    service: str = "ktrdr"
    status: str = "ok"
    version: str
    pid: int
    store: str
    # "ok", or "degraded" while writes to the operations database fail (they are kept and
    # retried; memory stays authoritative): ``store_problem`` says why.
    store_status: str = "ok"
    store_problem: str | None = None
    executor: str = Field(default="thread", description="thread|process|dask, with job slots")
    # Where jobs run, named apart: the executor kind, and for "dask" the scheduler's
    # address, its workers and the job slots (worker threads) free right now (None
    # until the scheduler has been reached). ``cluster_problem`` says why it cannot be.
    executor_name: str = "thread"
    scheduler: str | None = None
    cluster_status: str | None = None
    cluster_problem: str | None = None
    workers: int | None = None
    free_slots: int | None = None
    started_at: datetime
    active_operations: int
    watchers: int = 0  # requests held waiting for a change (long-polls)


class ChangePublic(BaseModel):
    """One significant change in a tree: ``kind`` created | status | phase | cancel_requested."""

    tree_version: int
    operation_id: str
    kind: str
    value: str
    at: datetime


class TreePublic(BaseModel):
    """An operation and all its descendants (``operations[0]`` is the one asked for), the
    tree's version (the sum of their versions) and the significant changes after the
    ``since`` version the reader gave; ``complete`` False means older changes are gone
    and only the current state is known."""

    version: int
    complete: bool
    changes: list[ChangePublic]
    operations: list[OperationPublic]


class OperationStarted(BaseModel):
    operation_id: str
    operation_type: OperationType
    status: OperationStatus

    @classmethod
    def of(cls, op: Operation) -> OperationStarted:
        return cls(operation_id=op.operation_id, operation_type=op.operation_type, status=op.status)


class AgentStatusPublic(BaseModel):
    active: bool
    phase: str | None = None
    cycle: OperationPublic | None = None
    child: OperationPublic | None = None
