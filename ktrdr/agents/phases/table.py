"""Where a research cycle can be, and what each place means for its progress.

This table is the only place the phase percentages live. The parent's percentage is
static per phase (20 % for all of training); the child operation shows the detail.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    IDLE = "idle"
    DESIGNING = "designing"
    TRAINING = "training"
    BACKTESTING = "backtesting"
    ASSESSING = "assessing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (Phase.COMPLETED, Phase.FAILED, Phase.CANCELLED)


# The happy path, in order.
ORDERED_PHASES: tuple[Phase, ...] = (
    Phase.IDLE,
    Phase.DESIGNING,
    Phase.TRAINING,
    Phase.BACKTESTING,
    Phase.ASSESSING,
    Phase.COMPLETED,
)
ACTIVE_PHASES: tuple[Phase, ...] = (
    Phase.DESIGNING,
    Phase.TRAINING,
    Phase.BACKTESTING,
    Phase.ASSESSING,
)

PHASE_PROGRESS: dict[Phase, float] = {
    Phase.IDLE: 0.0,
    Phase.DESIGNING: 5.0,
    Phase.TRAINING: 20.0,
    Phase.BACKTESTING: 65.0,
    Phase.ASSESSING: 90.0,
    Phase.COMPLETED: 100.0,
}

PHASE_STEP: dict[Phase, str] = {
    Phase.IDLE: "Waiting to start",
    Phase.DESIGNING: "Designing strategy...",
    Phase.TRAINING: "Training model...",
    Phase.BACKTESTING: "Backtesting...",
    Phase.ASSESSING: "Assessing results...",
    Phase.COMPLETED: "Complete",
    Phase.FAILED: "Failed",
    Phase.CANCELLED: "Cancelled",
}

# Which metadata parameter names the child operation of a phase.
CHILD_ID_KEY: dict[Phase, str] = {
    Phase.TRAINING: "training_op_id",
    Phase.BACKTESTING: "backtest_op_id",
}
