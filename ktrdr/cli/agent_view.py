"""How `ktrdr agent status` (without --follow) and `ktrdr agent results` look."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ktrdr.api.schemas import AgentStatusPublic, OperationPublic
from ktrdr.cli.figures import number, percent
from ktrdr.operations.models import OperationStatus


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
    if cycle.status is OperationStatus.COMPLETED:
        parts.append(
            Text(
                f"Verdict: {summary.get('verdict', '-')} | Sharpe: "
                f"{number(summary.get('sharpe_ratio', 0.0))} | Win Rate: "
                f"{percent(summary.get('win_rate'))} | Max DD: "
                f"{percent(summary.get('max_drawdown'))}"
            )
        )
        for reason in summary.get("reasons") or []:
            parts.append(Text(f"  • {reason}"))
    elif cycle.status is OperationStatus.FAILED:
        parts.append(Text(f"Failed: {cycle.error_message}", style="red"))
    elif cycle.status is OperationStatus.CANCELLED:
        parts.append(Text(f"Cancelled: {summary.get('stopped_at', '')}", style="magenta"))
    return Group(*parts)


_VERDICT_STYLE = {"promising": "bold green", "neutral": "yellow", "poor": "red"}
_VERDICT_RANK = {"promising": 0, "neutral": 1, "poor": 2}


def result_rows(cycles: list[OperationPublic], sort: str) -> list[OperationPublic]:
    """Completed cycles first, ordered by ``sort`` (newest | sharpe | verdict)."""

    def sharpe(op: OperationPublic) -> float:
        value = (op.result_summary or {}).get("sharpe_ratio")
        return float(value) if isinstance(value, int | float) else float("-inf")

    done = [op for op in cycles if op.status is OperationStatus.COMPLETED]
    rest = [op for op in cycles if op.status is not OperationStatus.COMPLETED]
    if sort == "sharpe":
        done.sort(key=sharpe, reverse=True)
    elif sort == "verdict":
        done.sort(
            key=lambda op: (
                _VERDICT_RANK.get(str((op.result_summary or {}).get("verdict")), 3),
                -sharpe(op),
            )
        )
    return done + rest


RESULTS_TABLE_WIDTH = 125  # below this, each cycle gets a few lines instead of a table row


def _verdict_text(op: OperationPublic) -> Text:
    if op.status is not OperationStatus.COMPLETED:
        return Text(op.status.value, style="dim")
    verdict = str((op.result_summary or {}).get("verdict", "-"))
    return Text(verdict, style=_VERDICT_STYLE.get(verdict, ""))


def _strategy_name(op: OperationPublic) -> str:
    summary = op.result_summary or {}
    return str(summary.get("strategy_name") or op.metadata.parameters.get("strategy_name") or "-")


def results_view(cycles: list[OperationPublic], width: int) -> RenderableType:
    """The table when it fits; on a narrow terminal a few lines per cycle, IDs never cut."""
    if width >= RESULTS_TABLE_WIDTH:
        return results_table(cycles)
    lines: list[RenderableType] = []
    for op in cycles:
        summary = op.result_summary or {}
        bench = summary.get("benchmark") or {}
        lines.append(Text.assemble(op.operation_id, "  ", _verdict_text(op)))
        lines.append(Text(f"  {_strategy_name(op)}", style="cyan"))
        if op.status is OperationStatus.COMPLETED:
            lines.append(
                Text(
                    f"  Sharpe {number(summary.get('sharpe_ratio'), '+.2f')}"
                    f" (B&H {number(bench.get('sharpe_ratio'), '+.2f')})"
                    f"  Return {number(summary.get('total_return'), '+.0%')}"
                    f"  Max DD {number(summary.get('max_drawdown'), '.0%')}"
                    f"  {number(summary.get('trades'), '.0f')} trades"
                )
            )
    return Group(*lines)


def results_listing(cycles: list[OperationPublic], total: int, width: int) -> RenderableType:
    """The results, and a line saying how to see more when there are more cycles."""
    parts = [results_view(cycles, width)]
    if total > len(cycles):
        parts.append(Text(f"{len(cycles)} of {total} cycles; --limit for more", style="dim"))
    return Group(*parts)


def results_table(cycles: list[OperationPublic]) -> Table:
    """One row per cycle: what was designed and how it did against buying and holding."""
    table = Table(show_edge=False, header_style="bold")
    table.add_column("Cycle", no_wrap=True)
    table.add_column("Strategy")
    table.add_column("Verdict", no_wrap=True)
    for col in ("Sharpe", "B&H", "Return", "Max DD", "Trades"):
        table.add_column(col, justify="right", no_wrap=True)
    for op in cycles:
        summary = op.result_summary or {}
        bench = summary.get("benchmark") or {}
        table.add_row(
            op.operation_id,
            _strategy_name(op),
            _verdict_text(op),
            number(summary.get("sharpe_ratio"), "+.2f"),
            number(bench.get("sharpe_ratio"), "+.2f"),
            number(summary.get("total_return"), "+.0%"),
            number(summary.get("max_drawdown"), ".0%"),
            number(summary.get("trades"), ".0f"),
        )
    return table
