"""What kind of work an operation is, what people call it, and where it stands: plain enums
and words, importable by the CLI at start without loading pydantic or anything else of the
domain."""

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


# What people call each kind, in sentence case. The only copy: the CLI's summaries read it
# here and the web page reads it through the API's vocabulary (GET /api/v1/meta/vocabulary).
KIND_LABEL: dict[OperationType, str] = {
    OperationType.AGENT_RESEARCH: "Research cycle",
    OperationType.TRAINING: "Training",
    OperationType.BACKTESTING: "Backtest",
}


def kind_noun(kind: OperationType) -> str:
    """The label as a word mid-sentence ("Cancel research cycle op_..."): the labels are
    plain words, so their lower case reads right."""
    return KIND_LABEL[kind].lower()
