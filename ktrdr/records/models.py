"""The operation domain: what a long-running job is, as stored and as served.

The service treats an ``Operation`` as a value: every change builds a new one (the models
are frozen), so a snapshot handed to the store or to a reader never changes under it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

# The enums live apart so the CLI can import them cheaply; this module is their usual name.
from ktrdr.records.kinds import OperationStatus as OperationStatus
from ktrdr.records.kinds import OperationType as OperationType


def utcnow() -> datetime:
    return datetime.now(UTC)


class OperationProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    percentage: float = Field(default=0.0, ge=0.0, le=100.0)
    current_step: str | None = None
    items_processed: int | None = None
    items_total: int | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class OperationMetadata(BaseModel):
    model_config = ConfigDict(frozen=True)

    parameters: dict[str, Any] = Field(default_factory=dict)

    def merged(self, parameters: Mapping[str, Any] | None) -> OperationMetadata:
        """This same object when nothing changes (the store writes through only when
        metadata really changed), else a new one with ``parameters`` merged in."""
        if not parameters:
            return self
        return OperationMetadata(parameters={**self.parameters, **parameters})


class Operation(BaseModel):
    model_config = ConfigDict(frozen=True)

    operation_id: str
    operation_type: OperationType
    status: OperationStatus = OperationStatus.PENDING
    parent_operation_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    progress: OperationProgress = Field(default_factory=OperationProgress)
    metadata: OperationMetadata = Field(default_factory=OperationMetadata)
    result_summary: dict[str, Any] | None = None
    error_message: str | None = None
    cancel_requested: bool = False
    version: int = 1
    # When the work last said anything (its start, or its latest progress report): a
    # running operation whose last report is old is stalled, whatever its percentage.
    last_progress_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


class OperationView(Protocol):
    """What the typed readers read of an operation: a domain ``Operation`` or the wire's
    ``OperationPublic`` (both have these fields)."""

    @property
    def operation_type(self) -> OperationType: ...

    @property
    def metadata(self) -> OperationMetadata: ...

    @property
    def progress(self) -> OperationProgress: ...

    @property
    def result_summary(self) -> dict[str, Any] | None: ...


def new_operation_id(operation_type: OperationType, now: datetime) -> str:
    return f"op_{operation_type.value}_{now:%Y%m%d_%H%M%S}_{secrets.token_hex(4)}"
