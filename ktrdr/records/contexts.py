"""What each kind of operation says beside its percentage (``progress.context``), typed.

Like the results (``ktrdr.records.results``): producers build a record and report
``record.to_dict()``; readers use ``progress_context_of`` and friends, which never raise.
The JSON keys are the ones the producers wrote before these records existed.
"""

from __future__ import annotations

from ktrdr.records.models import OperationType, OperationView
from ktrdr.records.results import EpochFigures
from ktrdr.records.wire import KindReader, KindTable, WireRecord


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


def _reported_context(op: OperationView) -> object:
    return op.progress.context


# Each kind's progress context as its record (empty fields when it said nothing); None for
# another kind.
training_context_of = KindReader(OperationType.TRAINING, TrainingProgressContext, _reported_context)
backtest_context_of = KindReader(
    OperationType.BACKTESTING, BacktestProgressContext, _reported_context
)
research_cycle_context_of = KindReader(
    OperationType.AGENT_RESEARCH, ResearchCycleProgressContext, _reported_context
)
# ``op``'s progress context as its kind's record (empty fields when it said nothing).
progress_context_of: KindTable[AnyProgressContext] = KindTable(
    training_context_of, backtest_context_of, research_cycle_context_of
)
