"""The research cycle's phase machine (transitions) and its phase -> progress table."""

from ktrdr.agents.phases.machine import IllegalPhaseTransitionError, ResearchPhaseMachine
from ktrdr.agents.phases.table import (
    ACTIVE_PHASES,
    CHILD_ID_KEY,
    PHASE_PROGRESS,
    PHASE_STEP,
    Phase,
)

__all__ = [
    "ACTIVE_PHASES",
    "CHILD_ID_KEY",
    "PHASE_PROGRESS",
    "PHASE_STEP",
    "IllegalPhaseTransitionError",
    "Phase",
    "ResearchPhaseMachine",
]
