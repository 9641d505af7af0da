"""What the live and the plain view call things, and the numbers both show for a training."""

from __future__ import annotations

from ktrdr.cli.views.figures import loss, percent
from ktrdr.contract.operations import OperationPublic
from ktrdr.contract.progress import training_context_of
from ktrdr.records.kinds import KIND_LABEL, kind_noun
from ktrdr.records.models import OperationType

TITLES: dict[OperationType, str] = {
    OperationType.AGENT_RESEARCH: "🔬 Research Cycle",
    OperationType.TRAINING: "🧠 Training",
    OperationType.BACKTESTING: "📈 Backtest",
}
# A cycle's children are trainings and backtests: their kinds' labels.
CHILD_LABEL: dict[OperationType, str] = {
    kind: label for kind, label in KIND_LABEL.items() if kind is not OperationType.AGENT_RESEARCH
}


def is_research(op: OperationPublic | None) -> bool:
    return op is not None and op.operation_type is OperationType.AGENT_RESEARCH


CONNECTION_LOST = "⚠ Connection lost, retrying..."


def cancelling_text(parent: OperationPublic | None) -> str:
    # "Cancelling research cycle...", "Cancelling training...".
    kind = kind_noun(parent.operation_type) if parent else "operation"
    return f"⚠️ Cancelling {kind}..."


def stall_text(seconds: float) -> str:
    """``⚠ No progress for 45 s`` (minutes and seconds from two minutes on)."""
    whole = int(seconds)
    if whole < 120:
        return f"⚠ No progress for {whole} s"
    return f"⚠ No progress for {whole // 60} min {whole % 60:02d} s"


def resumed_text(seconds: float | None) -> str:
    if seconds is None:
        return "Progress resumed"
    return f"Progress resumed after {int(seconds)} s without a report"


def training_stats(op: OperationPublic) -> str | None:
    """The latest epoch's numbers from a training's progress context, if it has any."""
    if op.operation_type is not OperationType.TRAINING or op.is_terminal:
        return None
    figures = training_context_of(op)
    if figures is None:
        return None
    shown = (
        ("loss", figures.train_loss, loss),
        ("val loss", figures.val_loss, loss),
        ("val acc", figures.val_accuracy, percent),
    )
    parts = [f"{label} {spell(value)}" for label, value, spell in shown if value is not None]
    return " · ".join(parts) or None
