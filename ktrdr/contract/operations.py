"""Operations on the wire: an operation, a listing row, a tree with its changes, health,
the answer to a start request, and the envelopes around them (plain pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

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


class EtaFigures(Protocol):
    """What an answer shows of an ETA (``ktrdr.operations.eta.Eta`` is one)."""

    @property
    def seconds(self) -> float: ...

    @property
    def low(self) -> float: ...

    @property
    def high(self) -> float: ...

    @property
    def overdue(self) -> bool: ...


class OperationPublic(Operation):
    """An operation as served; ``children`` is filled on single-operation reads."""

    children: list[OperationChildPublic] = Field(default_factory=list)
    elapsed_seconds: float | None = None
    # A pending or running research cycle's expected seconds to its end, as of this read,
    # learned from this backend's completed comparable cycles: ``eta_low``..``eta_high``
    # holds the end 80 % of the time. None for other operations, ended ones, or while
    # fewer than 3 comparable cycles have completed. ``overdue``: it has run longer than
    # 9 in 10 of them (a separate matter from "stalled", which is silence).
    eta_seconds: float | None = None
    eta_low: float | None = None
    eta_high: float | None = None
    overdue: bool | None = None

    def with_eta(self, eta: EtaFigures | None) -> OperationPublic:
        """This answer with a cycle's ETA (itself when there is none)."""
        if eta is None:
            return self
        return self.model_copy(
            update={
                "eta_seconds": round(eta.seconds, 1),
                "eta_low": round(eta.low, 1),
                "eta_high": round(eta.high, 1),
                "overdue": eta.overdue,
            }
        )

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
    """A backend's health. With a token set, a caller without it gets the liveness answer
    (``detail`` "liveness"): service, status and version, every other field null, since
    the pid, the database's path and the cluster's address help only an intruder."""

    service: str = "ktrdr"
    status: str = "ok"
    version: str
    detail: Literal["full", "liveness"] = "full"
    pid: int | None = None
    store: str | None = None
    # "ok", or "degraded" while writes to the operations database fail (they are kept and
    # retried; memory stays authoritative): ``store_problem`` says why.
    store_status: str | None = None
    store_problem: str | None = None
    # Which of the backend's own threads died of an exception, and why (then ``status`` is
    # "degraded": e.g. progress no longer flushed, cancels no longer forced); None if none.
    threads_problem: str | None = None
    executor: str | None = Field(default=None, description="thread|process|dask, with job slots")
    # Where jobs run, named apart: the executor kind, and for "dask" the scheduler's
    # address, its workers and the job slots (worker threads) free right now (None
    # until the scheduler has been reached). ``cluster_problem`` says why it cannot be.
    executor_name: str | None = None
    scheduler: str | None = None
    cluster_status: str | None = None
    cluster_problem: str | None = None
    workers: int | None = None
    free_slots: int | None = None
    started_at: datetime | None = None
    active_operations: int | None = None
    watchers: int | None = None  # requests held waiting for a change (long-polls)

    def liveness(self) -> HealthPublic:
        """This answer cut down to what a caller without the token may know."""
        return HealthPublic(
            service=self.service, status=self.status, version=self.version, detail="liveness"
        )


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
    # How many cycles are open and how many may be (KTRDR_MAX_ACTIVE_CYCLES), so a caller
    # starting several can check first; None from a backend that does not say.
    open_cycles: int | None = None
    max_active_cycles: int | None = None
