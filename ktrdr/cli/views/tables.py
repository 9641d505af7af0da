"""`ops list`, `ops show` and `agent results` in the terminal: the listing's summary rows as
a tree, one whole operation in detail, and past research cycles ranked one under the other
(`agent compare`, in ``views/compare.py``, puts a few side by side)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ktrdr.cli.views.figures import (
    MISSING,
    count,
    percent,
    percents,
    progress,
    ratio,
)
from ktrdr.contract.operations import OperationPublic, OperationSummaryPublic
from ktrdr.contract.results import Headline, headline
from ktrdr.records.models import OperationStatus

STATUS_STYLE: dict[OperationStatus, str] = {
    OperationStatus.PENDING: "yellow",
    OperationStatus.RUNNING: "cyan",
    OperationStatus.COMPLETED: "green",
    OperationStatus.FAILED: "red",
    OperationStatus.CANCELLED: "magenta",
}


def status_text(status: OperationStatus) -> Text:
    return Text(status.value, style=STATUS_STYLE.get(status, ""))


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def tree_order(
    ops: Sequence[OperationSummaryPublic],
) -> list[tuple[int, OperationSummaryPublic]]:
    """``ops`` (newest first) with every child listed right under its parent, oldest child
    first (training before backtest), as (depth, operation). A child whose parent is not
    in ``ops`` stays where it was, at depth 0."""
    present = {op.operation_id for op in ops}
    children: dict[str, list[OperationSummaryPublic]] = {}
    for op in ops:
        if op.parent_operation_id in present:
            children.setdefault(op.parent_operation_id or "", []).append(op)
    ordered: list[tuple[int, OperationSummaryPublic]] = []

    def visit(op: OperationSummaryPublic, depth: int) -> None:
        ordered.append((depth, op))
        # The listing is newest first by the backend's own sequence (never the clock):
        # reversed, the oldest child comes first.
        for child in reversed(children.get(op.operation_id, [])):
            visit(child, depth + 1)

    for op in ops:
        if op.parent_operation_id not in present:
            visit(op, 0)
    return ordered


def with_parents(
    ops: Sequence[OperationSummaryPublic], parents: Sequence[OperationSummaryPublic]
) -> list[OperationSummaryPublic]:
    """``ops`` with each of ``parents`` (read from another page) placed right before its
    newest child, so that the tree draws the family where the page has it."""
    waiting = {parent.operation_id: parent for parent in parents}
    merged: list[OperationSummaryPublic] = []
    for op in ops:
        parent = waiting.pop(op.parent_operation_id or "", None)
        if parent is not None:
            merged.append(parent)
        merged.append(op)
    return merged


def _started(op: OperationSummaryPublic) -> str:
    """When it started: a time of day beside its creation day, the date too if another."""
    if op.started_at is None:
        return "-"
    same_day = op.started_at.date() == op.created_at.date()
    return op.started_at.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S")


def operations_table(
    ops: list[OperationSummaryPublic],
    width: int = 160,
    elsewhere: Sequence[OperationSummaryPublic] = (),
) -> Table:
    """The operations as a parent/child tree. IDs are what people copy, so they are never
    wrapped or cut; on a narrow terminal (``width``) the type and time columns go, since
    every ID already spells both (``op_<type>_<YYYYmmdd_HHMMSS>_<hex>``). ``elsewhere``:
    parents of children on this page that are not on it, drawn dim and marked."""
    context = {parent.operation_id for parent in elsewhere}
    rows = [
        (("   " * (depth - 1) + "└─ " if depth else "") + op.operation_id, op)
        for depth, op in tree_order(with_parents(ops, elsewhere))
    ]
    id_width = max((len(label) for label, _ in rows), default=2)
    full = width >= id_width + 105
    table = Table(show_edge=False, header_style="bold")
    table.add_column("ID", no_wrap=True, min_width=id_width)
    columns = (
        ["Type", "Status", "Progress", "Step", "Created (UTC)", "Started"]
        if full
        else ["Status", "Progress", "Step"]
    )
    for col in columns:
        table.add_column(col, no_wrap=col in ("Status", "Progress", "Started"))
    for label, op in rows:
        cells: dict[str, Text | str] = {
            "Type": op.operation_type.value,
            "Status": status_text(op.status),
            "Progress": progress(op.percentage),
            "Step": "(on another page)" if op.operation_id in context else op.current_step or "",
            "Created (UTC)": _when(op.created_at),
            "Started": _started(op),
        }
        style = "dim" if op.operation_id in context else ""
        table.add_row(label, *(cells[col] for col in columns), style=style)
    return table


def operations_listing(
    ops: list[OperationSummaryPublic],
    total: int,
    offset: int,
    width: int,
    elsewhere: Sequence[OperationSummaryPublic] = (),
) -> RenderableType:
    """The table, and a line saying how to page when the backend holds more."""
    parts: list[RenderableType] = [operations_table(ops, width, elsewhere)]
    if total > offset + len(ops):
        parts.append(Text(f"{len(ops)} of {total} shown; use --offset/--limit for more", "dim"))
    return Group(*parts)


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _readable(value: Any) -> str:
    """One value of a result or parameter map, short enough for a terminal: scalars as they
    are, lists of scalars as bullets, flat maps as key=value, anything deeper named only."""
    if _is_scalar(value):
        return _scalar(value)
    if isinstance(value, list) and all(_is_scalar(v) for v in value):
        return "\n".join(f"• {_scalar(v)}" for v in value) or "-"
    if isinstance(value, dict) and all(_is_scalar(v) for v in value.values()):
        return "  ".join(f"{k}={_scalar(v)}" for k, v in value.items()) or "-"
    if isinstance(value, dict):
        flat = "  ".join(f"{k}={_scalar(v)}" for k, v in value.items() if _is_scalar(v))
        return (flat + "  " if flat else "") + "(more with --json)"
    return f"{len(value)} items (see --json)" if isinstance(value, list) else str(value)


def _key_value_grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    return grid


def operation_details(
    op: OperationPublic, notifications: RenderableType | None = None
) -> RenderableType:
    """``notifications``: the webhooks section (``views.deliveries``), shown last."""
    grid = _key_value_grid()
    grid.add_row("Operation", op.operation_id)
    grid.add_row("Type", op.operation_type.value)
    grid.add_row("Status", status_text(op.status))
    if op.cancel_requested and not op.is_terminal:
        grid.add_row("", Text("cancel requested", style="magenta"))
    step = op.progress.current_step or ""
    grid.add_row("Progress", f"{progress(op.progress.percentage)}  {step}")
    if op.parent_operation_id:
        grid.add_row("Parent", op.parent_operation_id)
    grid.add_row("Created", _when(op.created_at))
    if op.elapsed_seconds is not None:
        grid.add_row("Elapsed", f"{op.elapsed_seconds:.1f}s")
    if op.error_message:
        grid.add_row("Error", Text(op.error_message, style="red"))
    parts: list[RenderableType] = [grid]
    for title, mapping in (("Parameters", op.metadata.parameters), ("Result", op.result_summary)):
        shown = {k: v for k, v in (mapping or {}).items() if v is not None}
        if not shown:
            continue
        section = _key_value_grid()
        for key, value in shown.items():
            section.add_row(f"  {key}", Text(_readable(value)))
        parts.extend([Text(title, style="bold underline"), section])
    if op.children:
        kids = Table(title="Children", show_edge=False, header_style="bold")
        for col in ("ID", "Type", "Status", "Progress"):
            kids.add_column(col, no_wrap=True)
        for c in op.children:
            kids.add_row(
                c.operation_id,
                c.operation_type.value,
                status_text(c.status),
                progress(c.percentage),
            )
        parts.append(kids)
    if notifications is not None:
        parts.append(notifications)
    parts.append(Text(f"Everything, as JSON: ktrdr ops show {op.operation_id} --json", style="dim"))
    return Group(*parts)


# --- `agent results` -----------------------------------------------------------------------

# How `agent results` can order the completed cycles; the first is the default. The deflated
# Sharpe comes first because it is the figure that counts every try: a high plain Sharpe that
# is the best of many tries says little.
RESULT_SORTS = ("dsr", "newest", "sharpe", "verdict")
# Below this width each cycle gets a few lines instead of a table row (IDs are never cut).
RESULTS_TABLE_WIDTH = 170

_VERDICT_STYLE = {"promising": "bold green", "neutral": "yellow", "poor": "red"}
_VERDICT_RANK = {"promising": 0, "neutral": 1, "poor": 2}


def _highest_first(value: float | None) -> tuple[bool, float]:
    """A sort key putting the highest value first and a missing one after every value."""
    return (value is None, -(value or 0.0))


def sorted_results(
    cycles: list[OperationSummaryPublic], sort: str = RESULT_SORTS[0]
) -> list[OperationSummaryPublic]:
    """Completed cycles first, ordered by ``sort`` (one of ``RESULT_SORTS``), then the rest
    as listed. Sorting is stable, so cycles without the figure keep the listing's order
    (newest first) after those with it."""
    done = [row for row in cycles if row.status is OperationStatus.COMPLETED]
    rest = [row for row in cycles if row.status is not OperationStatus.COMPLETED]
    if sort == "dsr":
        done.sort(key=lambda row: _highest_first(headline(row).deflated_sharpe))
    elif sort == "sharpe":
        done.sort(key=lambda row: _highest_first(headline(row).sharpe_ratio))
    elif sort == "verdict":
        done.sort(
            key=lambda row: (
                _VERDICT_RANK.get(str(row.verdict), 3),
                _highest_first(headline(row).sharpe_ratio),
            )
        )
    return done + rest


def excess_column(rows: Sequence[Headline]) -> list[str]:
    """Each row's holdout excess return over buy-and-hold with its interval, "+4.1% [-1.2%,
    +9.0%]", all with the same decimals, so that a column of them reads evenly."""
    triples = [(f.excess_return, f.excess_low, f.excess_high) for f in rows]
    shown = iter(percents([value for triple in triples for value in triple], "+"))
    texts = []
    for estimate, low, high in triples:
        text, low_text, high_text = next(shown), next(shown), next(shown)
        if estimate is None:
            text = MISSING
        elif low is not None and high is not None:
            text += f" [{low_text}, {high_text}]"
        texts.append(text)
    return texts


def excess_text(figures: Headline) -> str:
    """One cycle's holdout excess return with its interval (see ``excess_column``)."""
    return excess_column([figures])[0]


def _trials_text(figures: Headline) -> str:
    return MISSING if figures.trials is None else str(figures.trials)


def _verdict_text(row: OperationSummaryPublic) -> Text:
    if row.status is not OperationStatus.COMPLETED:
        return Text(row.status.value, style="dim")
    verdict = row.verdict or MISSING
    return Text(verdict, style=_VERDICT_STYLE.get(verdict, ""))


def results_table(cycles: list[OperationSummaryPublic]) -> Table:
    """One row per cycle: what was designed, how it did against buying and holding, and the
    statistics that count every try (walk-forward cycles only; a dash for older ones)."""
    table = Table(show_edge=False, header_style="bold")
    table.add_column("Cycle", no_wrap=True)
    table.add_column("Strategy", overflow="fold")  # a name cut short could be another's
    table.add_column("Verdict", no_wrap=True)
    for col in ("Sharpe", "B&H", "Return", "Max DD", "Trades"):
        table.add_column(col, justify="right", no_wrap=True)
    for col in ("Deflated\nSharpe", "Best\nof N", "PBO", "Holdout excess\n[95% interval]"):
        table.add_column(col, justify="right", no_wrap=True)
    rows = [headline(row) for row in cycles]
    # A column's percentages share their decimals, so that they line up.
    returns = percents([figures.total_return for figures in rows], "+")
    drawdowns = percents([figures.max_drawdown for figures in rows])
    excess = excess_column(rows)
    for number, (row, figures) in enumerate(zip(cycles, rows, strict=True)):
        table.add_row(
            row.operation_id,
            figures.strategy_name or MISSING,
            _verdict_text(row),
            ratio(figures.sharpe_ratio, "+"),
            ratio(figures.benchmark_sharpe_ratio, "+"),
            returns[number],
            drawdowns[number],
            count(figures.trades),
            ratio(figures.deflated_sharpe),
            _trials_text(figures),
            ratio(figures.pbo),
            excess[number],
        )
    return table


def _statistics_lines(figures: Headline) -> list[Text]:
    """A walk-forward cycle's statistics (none for a cycle without them), each line short
    enough for 80 columns."""
    lines = []
    if figures.deflated_sharpe is not None:
        tries = f" (best of {figures.trials})" if figures.trials is not None else ""
        pbo = f"  PBO {ratio(figures.pbo)}" if figures.pbo is not None else ""
        lines.append(Text(f"  Deflated Sharpe {ratio(figures.deflated_sharpe)}{tries}{pbo}"))
    if figures.excess_return is not None:
        lines.append(Text(f"  Holdout excess over B&H {excess_text(figures)}"))
    return lines


def results_lines(cycles: list[OperationSummaryPublic]) -> RenderableType:
    """A few lines per cycle, for a terminal too narrow for the table."""
    lines: list[RenderableType] = []
    for row in cycles:
        figures = headline(row)
        lines.append(Text.assemble(row.operation_id, "  ", _verdict_text(row)))
        lines.append(Text(f"  {figures.strategy_name or MISSING}", style="cyan"))
        if row.status is not OperationStatus.COMPLETED:
            continue
        lines.append(
            Text(
                f"  Sharpe {ratio(figures.sharpe_ratio, '+')}"
                f" (B&H {ratio(figures.benchmark_sharpe_ratio, '+')})"
                f"  Return {percent(figures.total_return, sign='+')}"
                f"  Max DD {percent(figures.max_drawdown)}"
                f"  {count(figures.trades)} trades"
            )
        )
        lines.extend(_statistics_lines(figures))
    return Group(*lines)


def results_listing(cycles: list[OperationSummaryPublic], total: int, width: int) -> RenderableType:
    """The table when it fits, else lines; and a line saying how to see more cycles."""
    parts = [results_table(cycles) if width >= RESULTS_TABLE_WIDTH else results_lines(cycles)]
    if total > len(cycles):
        parts.append(Text(f"{len(cycles)} of {total} cycles; --limit for more", style="dim"))
    return Group(*parts)
