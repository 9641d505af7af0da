"""How `ktrdr agent status` (without --follow) and `ktrdr agent results` look.

Results come from the listing's summary rows: the headline numbers (Sharpe, return, drawdown,
trades, buy-and-hold's Sharpe) are all a comparison needs."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ktrdr.cli.views.figures import number, percent
from ktrdr.contract.operations import AgentStatusPublic, OperationPublic, OperationSummaryPublic
from ktrdr.contract.progress import ACTIVE_PHASES, Phase, phase_of, research_cycle_context_of
from ktrdr.contract.results import ResearchCycleSummary, headline, research_cycle_summary_of
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
        for reason in summary.reasons:
            parts.append(Text(f"  • {reason}"))
    elif cycle.status is OperationStatus.FAILED:
        parts.append(Text(f"Failed: {cycle.error_message}", style="red"))
    elif cycle.status is OperationStatus.CANCELLED:
        parts.append(Text(f"Cancelled: {summary.stopped_at or ''}", style="magenta"))
    return Group(*parts)


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


_VERDICT_STYLE = {"promising": "bold green", "neutral": "yellow", "poor": "red"}
_VERDICT_RANK = {"promising": 0, "neutral": 1, "poor": 2}


def _sharpe(row: OperationSummaryPublic) -> float:
    value = headline(row).sharpe_ratio
    return value if value is not None else float("-inf")


def result_rows(cycles: list[OperationSummaryPublic], sort: str) -> list[OperationSummaryPublic]:
    """Completed cycles first, ordered by ``sort`` (newest | sharpe | verdict)."""
    done = [row for row in cycles if row.status is OperationStatus.COMPLETED]
    rest = [row for row in cycles if row.status is not OperationStatus.COMPLETED]
    if sort == "sharpe":
        done.sort(key=_sharpe, reverse=True)
    elif sort == "verdict":
        done.sort(key=lambda row: (_VERDICT_RANK.get(str(row.verdict), 3), -_sharpe(row)))
    return done + rest


RESULTS_TABLE_WIDTH = 125  # below this, each cycle gets a few lines instead of a table row


def _verdict_text(row: OperationSummaryPublic) -> Text:
    if row.status is not OperationStatus.COMPLETED:
        return Text(row.status.value, style="dim")
    verdict = row.verdict or "-"
    return Text(verdict, style=_VERDICT_STYLE.get(verdict, ""))


def _strategy_name(row: OperationSummaryPublic) -> str:
    return headline(row).strategy_name or "-"


def results_view(cycles: list[OperationSummaryPublic], width: int) -> RenderableType:
    """The table when it fits; on a narrow terminal a few lines per cycle, IDs never cut."""
    if width >= RESULTS_TABLE_WIDTH:
        return results_table(cycles)
    lines: list[RenderableType] = []
    for row in cycles:
        numbers = headline(row)
        lines.append(Text.assemble(row.operation_id, "  ", _verdict_text(row)))
        lines.append(Text(f"  {_strategy_name(row)}", style="cyan"))
        if row.status is OperationStatus.COMPLETED:
            lines.append(
                Text(
                    f"  Sharpe {number(numbers.sharpe_ratio, '+.2f')}"
                    f" (B&H {number(numbers.benchmark_sharpe_ratio, '+.2f')})"
                    f"  Return {number(numbers.total_return, '+.0%')}"
                    f"  Max DD {number(numbers.max_drawdown, '.0%')}"
                    f"  {number(numbers.trades, '.0f')} trades"
                )
            )
    return Group(*lines)


def results_listing(cycles: list[OperationSummaryPublic], total: int, width: int) -> RenderableType:
    """The results, and a line saying how to see more when there are more cycles."""
    parts = [results_view(cycles, width)]
    if total > len(cycles):
        parts.append(Text(f"{len(cycles)} of {total} cycles; --limit for more", style="dim"))
    return Group(*parts)


def results_table(cycles: list[OperationSummaryPublic]) -> Table:
    """One row per cycle: what was designed and how it did against buying and holding."""
    table = Table(show_edge=False, header_style="bold")
    table.add_column("Cycle", no_wrap=True)
    table.add_column("Strategy")
    table.add_column("Verdict", no_wrap=True)
    for col in ("Sharpe", "B&H", "Return", "Max DD", "Trades"):
        table.add_column(col, justify="right", no_wrap=True)
    for row in cycles:
        numbers = headline(row)
        table.add_row(
            row.operation_id,
            _strategy_name(row),
            _verdict_text(row),
            number(numbers.sharpe_ratio, "+.2f"),
            number(numbers.benchmark_sharpe_ratio, "+.2f"),
            number(numbers.total_return, "+.0%"),
            number(numbers.max_drawdown, ".0%"),
            number(numbers.trades, ".0f"),
        )
    return table
