"""Wire models shared by the API and the client (plain pydantic: no FastAPI here)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from ktrdr.operations.models import Operation, OperationStatus, OperationType
from ktrdr.operations.summary import OperationSummary

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
    executor: str = Field(default="thread", description="thread|process, with job slots")
    started_at: datetime
    active_operations: int


class OperationStarted(BaseModel):
    operation_id: str
    operation_type: OperationType
    status: OperationStatus


class _Request(BaseModel):
    model_config = {"extra": "forbid"}


class TrainingStartRequest(_Request):
    strategy: str | None = Field(
        default=None, description="Name of a shipped example or a path to a strategy YAML"
    )
    strategy_config: dict[str, Any] | None = Field(
        default=None, description="A full strategy definition (instead of `strategy`)"
    )
    symbol: str | None = None
    timeframe: str | None = None
    epochs: int | None = Field(default=None, ge=1, le=100_000)
    train_start: date | None = None
    train_end: date | None = None


class BacktestStartRequest(_Request):
    model: str = Field(description="A model directory, or a strategy name (its newest model)")
    symbol: str | None = None
    timeframe: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    mode: Literal["long_flat", "long_short"] | None = None
    commission: float | None = Field(default=None, ge=0, lt=0.1)
    slippage: float | None = Field(default=None, ge=0, lt=0.1)


class AgentTriggerRequest(_Request):
    model: Literal["haiku", "sonnet", "opus"] | None = Field(
        default=None, description="LLM designer; omitted = the built-in offline designer"
    )
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    symbol: str | None = None
    timeframe: str | None = None
    epochs: int | None = Field(default=None, ge=1, le=100_000)


class AgentStatusPublic(BaseModel):
    active: bool
    phase: str | None = None
    cycle: OperationPublic | None = None
    child: OperationPublic | None = None


class SeriesPublic(BaseModel):
    symbol: str
    timeframe: str
    bars: int
    first: str
    last: str
    source: str


class BarPublic(BaseModel):
    timestamp: str
    open: float
    high: float
    low: float
    close: float
    volume: float


class SeriesRangePublic(BaseModel):
    """The bars a show request selected (the whole series without start/end)."""

    first: str
    last: str
    bars: int
    change: float  # close-to-close over the range
    high: float
    low: float


class SeriesDetailPublic(SeriesPublic):
    recent: list[BarPublic] = Field(default_factory=list)
    last_close: float | None = None
    change_1y: float | None = None
    selected: SeriesRangePublic | None = None


class DataImportRequest(_Request):
    symbol: str
    timeframe: str
    csv_text: str = Field(description="The CSV file's content")
    filename: str = "upload.csv"


class ModelPublic(BaseModel):
    name: str
    path: str
    created_at: str
