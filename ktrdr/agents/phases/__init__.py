"""A research cycle's phases: the table (order, percentages, steps, child-id keys) and the
``transitions`` machine in ``ktrdr.agents.phases.machine``.

The package exports the table only, so the client and the CLI can read the phase order
without loading the machine.
"""

from ktrdr.agents.phases.table import (
    ACTIVE_PHASES,
    CHILD_ID_KEY,
    ORDERED_PHASES,
    PHASE_PROGRESS,
    PHASE_STEP,
    Phase,
)

__all__ = [
    "ACTIVE_PHASES",
    "CHILD_ID_KEY",
    "ORDERED_PHASES",
    "PHASE_PROGRESS",
    "PHASE_STEP",
    "Phase",
]
