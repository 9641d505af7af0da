"""How `ktrdr agent status` (without --follow) looks (`ktrdr agent results`: ``tables``)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ktrdr.cli.views.eta import eta_text
from ktrdr.cli.views.figures import number, percent
from ktrdr.contract.operations import AgentStatusPublic, OperationPublic
from ktrdr.contract.progress import ACTIVE_PHASES, Phase, phase_of, research_cycle_context_of
from ktrdr.contract.results import ResearchCycleSummary, research_cycle_summary_of
from ktrdr.records.models import OperationStatus


def agent_status_view(current: AgentStatusPublic) -> RenderableType:
    cycle = current.cycle
    if cycle is None:
        return Text("No research cycle has run yet. Start one: ktrdr agent trigger --monitor")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Cycle", cycle.operation_id)
    grid.add_row("Status", cycle.status.value + (" (active)" if current.active else ""))
    grid.add_row("Phase", str(current.phase or "-"))
    trail = phase_trail(cycle)
    if trail is not None:
        grid.add_row("", trail)
    grid.add_row(
        "Progress", f"{cycle.progress.percentage:.0f}%  {cycle.progress.current_step or ''}"
    )
    if cycle.elapsed_seconds is not None:
        grid.add_row("Elapsed", f"{cycle.elapsed_seconds:.1f}s")
    eta = eta_text(cycle, interval=True)  # learned from past cycles; None without 3 alike
    if eta is not None:
        grid.add_row("ETA", eta)
    params = cycle.metadata.parameters
    for key in ("strategy_name", "designer", "seed", "training_op_id", "backtest_op_id"):
        if params.get(key) is not None:
            grid.add_row(key.replace("_", " ").capitalize(), str(params[key]))
    parts: list[RenderableType] = [grid]
    child = current.child
    if child is not None:
        parts.append(
            Text(
                f"  └─ {child.operation_type.value}: {child.progress.current_step or ''} "
                f"[{child.progress.percentage:.0f}%]"
            )
        )
    summary = research_cycle_summary_of(cycle) or ResearchCycleSummary()
    if cycle.status is OperationStatus.COMPLETED:
        parts.append(
            Text(
                f"Verdict: {summary.verdict or '-'} | Sharpe: "
                f"{number(summary.sharpe_ratio)} | Win Rate: "
                f"{percent(summary.win_rate)} | Max DD: "
                f"{percent(summary.max_drawdown)}"
            )
        )
        parts.extend(_reason_lines(summary.reasons, summary.reason_outcomes))
    elif cycle.status is OperationStatus.FAILED:
        parts.append(Text(f"Failed: {cycle.error_message}", style="red"))
    elif cycle.status is OperationStatus.CANCELLED:
        parts.append(Text(f"Cancelled: {summary.stopped_at or ''}", style="magenta"))
    return Group(*parts)


# How each outcome of the assessment's tests is marked (older results have no outcomes).
_MARKS = {"passed": ("✓", "green"), "failed": ("✗", "red"), "caution": ("!", "yellow")}


def _reason_lines(reasons: tuple[str, ...], outcomes: tuple[str, ...]) -> list[Text]:
    if len(outcomes) != len(reasons):
        return [Text(f"  • {reason}") for reason in reasons]
    lines = []
    for reason, outcome in zip(reasons, outcomes, strict=True):
        mark, style = _MARKS.get(outcome, ("•", ""))
        line = Text("  ")
        line.append(mark, style=style)
        line.append(f" {reason}")
        lines.append(line)
    return lines


def phase_trail(cycle: OperationPublic) -> str | None:
    """The cycle's active phases in the phase table's order: ✓ passed, ▶ the current one,
    ✗ the one a failed or cancelled cycle stopped in; None when the phase is unknown."""
    phase = phase_of(cycle)
    if phase is None:
        return None
    order = list(ACTIVE_PHASES)
    if phase is Phase.COMPLETED:
        reached, mark = len(order), ""
    elif phase in order:
        reached, mark = order.index(phase), "▶ "
    elif phase in (Phase.FAILED, Phase.CANCELLED):
        context = research_cycle_context_of(cycle)  # still names the last phase entered
        last = context.phase if context is not None else None
        names = [p.value for p in order]
        reached, mark = (names.index(last), "✗ ") if last in names else (0, "")
    else:  # idle: nothing passed yet
        reached, mark = 0, ""
    steps = []
    for index, step in enumerate(order):
        if index < reached:
            steps.append(f"✓ {step.value}")
        else:
            steps.append(f"{mark if index == reached else ''}{step.value}")
    return " → ".join(steps)
