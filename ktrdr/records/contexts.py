"""What each kind of operation says beside its percentage (``progress.context``), typed.

Like the results (``ktrdr.records.results``): producers build a record and report
``record.to_dict()``; readers use ``progress_context_of`` and friends, which never raise.
The JSON keys are the ones the producers wrote before these records existed.
"""

from __future__ import annotations

from typing import Protocol

from ktrdr.records.models import OperationProgress, OperationType
from ktrdr.records.results import EpochFigures
from ktrdr.records.wire import WireRecord


class TrainingProgressContext(EpochFigures):
    """The latest epoch's figures; before the first epoch only ``phase`` ("loading")."""

    phase: str | None = None
    total_epochs: int | None = None

    @classmethod
    def after_epoch(cls, figures: EpochFigures, total_epochs: int) -> TrainingProgressContext:
        """What a training reports once an epoch is done: the figures the engine made for
        it, as they are (every figure an epoch gains is reported with no change here)."""
        return cls.model_validate(
            {**figures.model_dump(exclude_unset=True), "total_epochs": total_epochs}
        )


class BacktestProgressContext(WireRecord):
    phase: str | None = None  # "signals" while the model's signals are computed


class ResearchCycleProgressContext(WireRecord):
    """The cycle's phase (a ``ktrdr.agents.phases.Phase`` value) and its running child."""

    phase: str | None = None
    child_op_id: str | None = None  # the active child: the least advanced running one
    # Every child so far, in creation order (a walk-forward cycle runs many at once).
    child_op_ids: tuple[str, ...] = ()
    folds: int | None = None
    candidates: int | None = None


AnyProgressContext = (
    TrainingProgressContext | BacktestProgressContext | ResearchCycleProgressContext
)

CONTEXT_RECORD: dict[OperationType, type[AnyProgressContext]] = {
    OperationType.TRAINING: TrainingProgressContext,
    OperationType.BACKTESTING: BacktestProgressContext,
    OperationType.AGENT_RESEARCH: ResearchCycleProgressContext,
}


class HasProgress(Protocol):
    """Anything that carries progress: a domain ``Operation`` or an ``OperationPublic``."""

    @property
    def operation_type(self) -> OperationType: ...

    @property
    def progress(self) -> OperationProgress: ...


def progress_context_of(op: HasProgress) -> AnyProgressContext | None:
    """``op``'s progress context as its kind's record (empty fields when it said nothing)."""
    record = CONTEXT_RECORD.get(op.operation_type)
    return record.read(op.progress.context) if record is not None else None


def training_context_of(op: HasProgress) -> TrainingProgressContext | None:
    context = progress_context_of(op)
    return context if isinstance(context, TrainingProgressContext) else None


def backtest_context_of(op: HasProgress) -> BacktestProgressContext | None:
    context = progress_context_of(op)
    return context if isinstance(context, BacktestProgressContext) else None


def research_cycle_context_of(op: HasProgress) -> ResearchCycleProgressContext | None:
    context = progress_context_of(op)
    return context if isinstance(context, ResearchCycleProgressContext) else None
