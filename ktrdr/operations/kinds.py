"""What kind of work an operation is, and where it stands: plain enums, importable by the
CLI at start without loading pydantic or anything else of the domain."""

from __future__ import annotations

from enum import StrEnum


class OperationStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (
            OperationStatus.COMPLETED,
            OperationStatus.FAILED,
            OperationStatus.CANCELLED,
        )


class OperationType(StrEnum):
    AGENT_RESEARCH = "agent_research"
    TRAINING = "training"
    BACKTESTING = "backtesting"
