"""How `ktrdr agent status` looks (without --follow)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ktrdr.api.schemas import AgentStatusPublic


def _pct(value: object) -> str:
    return f"{float(value):.0%}" if isinstance(value, int | float) else "-"


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
    grid.add_row(
        "Progress", f"{cycle.progress.percentage:.0f}%  {cycle.progress.current_step or ''}"
    )
    if cycle.elapsed_seconds is not None:
        grid.add_row("Elapsed", f"{cycle.elapsed_seconds:.1f}s")
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
    summary = cycle.result_summary or {}
    if cycle.status.value == "completed":
        parts.append(
            Text(
                f"Verdict: {summary.get('verdict', '-')} | Sharpe: "
                f"{float(summary.get('sharpe_ratio', 0.0)):.2f} | Win Rate: "
                f"{_pct(summary.get('win_rate'))} | Max DD: {_pct(summary.get('max_drawdown'))}"
            )
        )
        for reason in summary.get("reasons") or []:
            parts.append(Text(f"  • {reason}"))
    elif cycle.status.value == "failed":
        parts.append(Text(f"Failed: {cycle.error_message}", style="red"))
    elif cycle.status.value == "cancelled":
        parts.append(Text(f"Cancelled: {summary.get('stopped_at', '')}", style="magenta"))
    return Group(*parts)
