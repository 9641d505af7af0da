"""What the live and the plain view call things, and the numbers both show for a training."""

from __future__ import annotations

from ktrdr.contract.operations import OperationPublic
from ktrdr.operations.models import OperationType

TITLES: dict[OperationType, str] = {
    OperationType.AGENT_RESEARCH: "🔬 Research Cycle",
    OperationType.TRAINING: "🧠 Training",
    OperationType.BACKTESTING: "📈 Backtest",
}
CHILD_LABEL: dict[OperationType, str] = {
    OperationType.TRAINING: "Training",
    OperationType.BACKTESTING: "Backtest",
}


def is_research(op: OperationPublic | None) -> bool:
    return op is not None and op.operation_type is OperationType.AGENT_RESEARCH


def cancelling_text(parent: OperationPublic | None) -> str:
    return f"⚠️ Cancelling {'research cycle' if is_research(parent) else 'operation'}..."


def training_stats(op: OperationPublic) -> str | None:
    """The latest epoch's numbers from a training's progress context, if it has any."""
    if op.operation_type is not OperationType.TRAINING or op.is_terminal:
        return None
    ctx = op.progress.context or {}
    parts = []
    for key, label, spec in (
        ("train_loss", "loss", ".3f"),
        ("val_loss", "val loss", ".3f"),
        ("val_accuracy", "val acc", ".0%"),
    ):
        value = ctx.get(key)
        if isinstance(value, int | float):
            parts.append(f"{label} {format(float(value), spec)}")
    return " · ".join(parts) or None
