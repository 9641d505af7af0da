"""Wire models shared by the API and the client (plain pydantic: no FastAPI here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from ktrdr.operations.models import Operation, OperationStatus, OperationType

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
        cls, op: Operation, children: list[Operation] | None = None, now: datetime | None = None
    ) -> OperationPublic:
        elapsed: float | None = None
        if op.started_at is not None:
            end = op.completed_at or now or op.updated_at
            elapsed = max(0.0, (end - op.started_at).total_seconds())
        return cls(
            **op.model_dump(),
            elapsed_seconds=elapsed,
            children=[
                OperationChildPublic(
                    operation_id=c.operation_id,
                    operation_type=c.operation_type,
                    status=c.status,
                    percentage=c.progress.percentage,
                )
                for c in children or []
            ],
        )


class HealthPublic(BaseModel):
    service: str = "ktrdr"
    status: str = "ok"
    version: str
    pid: int
    store: str
    started_at: datetime
    active_operations: int


class OperationStarted(BaseModel):
    operation_id: str
    operation_type: OperationType
    status: OperationStatus
