"""Progress on the wire, typed per kind: what ``progress.context`` holds, and where a
research cycle is in its phase table (``ktrdr.agents.phases``, the only copy of the order,
steps and child-id keys).

The context records live in ``ktrdr.records.contexts``, below both the domain that builds
them and this package: the domain may not import the contract, nor the contract the domain.
"""

from __future__ import annotations

from ktrdr.agents.phases import ACTIVE_PHASES, CHILD_ID_KEY, ORDERED_PHASES, PHASE_STEP, Phase
from ktrdr.records.contexts import (
    AnyProgressContext,
    BacktestProgressContext,
    ResearchCycleProgressContext,
    TrainingProgressContext,
    backtest_context_of,
    progress_context_of,
    research_cycle_context_of,
    training_context_of,
)
from ktrdr.records.models import OperationType, OperationView

__all__ = [
    "ACTIVE_PHASES",
    "CHILD_ID_KEY",
    "ORDERED_PHASES",
    "PHASE_STEP",
    "AnyProgressContext",
    "BacktestProgressContext",
    "OperationView",
    "Phase",
    "ResearchCycleProgressContext",
    "TrainingProgressContext",
    "backtest_context_of",
    "child_id_of_phase",
    "phase_of",
    "progress_context_of",
    "research_cycle_context_of",
    "training_context_of",
]


def phase_of(op: OperationView) -> Phase | None:
    """A research cycle's phase (the machine records it in ``metadata.parameters``, also on
    failure and cancel); None for other kinds, or a value this version does not know."""
    if op.operation_type is not OperationType.AGENT_RESEARCH:
        return None
    value = op.metadata.parameters.get("phase")
    try:
        return Phase(value) if isinstance(value, str) else None
    except ValueError:
        return None


def child_id_of_phase(op: OperationView) -> str | None:
    """The id of the child a research cycle's current phase runs (training or backtest)."""
    phase = phase_of(op)
    key = CHILD_ID_KEY.get(phase) if phase is not None else None
    value = op.metadata.parameters.get(key) if key is not None else None
    return value if isinstance(value, str) else None
