"""`ops list` and `ops show` in the terminal: the listing's summary rows as a tree, and one
whole operation in detail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ktrdr.contract.operations import OperationPublic, OperationSummaryPublic
from ktrdr.operations.models import OperationStatus

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
        for child in sorted(children.get(op.operation_id, []), key=lambda c: c.created_at):
            visit(child, depth + 1)

    for op in ops:
        if op.parent_operation_id not in present:
            visit(op, 0)
    return ordered


def operations_table(ops: list[OperationSummaryPublic], width: int = 160) -> Table:
    """The operations as a parent/child tree. IDs are what people copy, so they are never
    wrapped or cut; on a narrow terminal (``width``) the type and creation time columns go,
    since every ID already spells both (``op_<type>_<YYYYmmdd_HHMMSS>_<hex>``)."""
    rows = [
        (("   " * (depth - 1) + "└─ " if depth else "") + op.operation_id, op)
        for depth, op in tree_order(ops)
    ]
    id_width = max((len(label) for label, _ in rows), default=2)
    full = width >= id_width + 95
    table = Table(show_edge=False, header_style="bold")
    table.add_column("ID", no_wrap=True, min_width=id_width)
    columns = (
        ["Type", "Status", "Progress", "Step", "Created (UTC)"]
        if full
        else ["Status", "Progress", "Step"]
    )
    for col in columns:
        table.add_column(col, no_wrap=col in ("Status", "Progress"))
    for label, op in rows:
        cells: dict[str, Text | str] = {
            "Type": op.operation_type.value,
            "Status": status_text(op.status),
            "Progress": f"{op.percentage:.0f}%",
            "Step": op.current_step or "",
            "Created (UTC)": _when(op.created_at),
        }
        table.add_row(label, *(cells[col] for col in columns))
    return table


def operations_listing(
    ops: list[OperationSummaryPublic], total: int, offset: int, width: int
) -> RenderableType:
    """The table, and a line saying how to page when the backend holds more."""
    parts: list[RenderableType] = [operations_table(ops, width)]
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


def operation_details(op: OperationPublic) -> RenderableType:
    grid = _key_value_grid()
    grid.add_row("Operation", op.operation_id)
    grid.add_row("Type", op.operation_type.value)
    grid.add_row("Status", status_text(op.status))
    if op.cancel_requested and not op.is_terminal:
        grid.add_row("", Text("cancel requested", style="magenta"))
    grid.add_row("Progress", f"{op.progress.percentage:.1f}%  {op.progress.current_step or ''}")
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
                f"{c.percentage:.0f}%",
            )
        parts.append(kids)
    parts.append(Text(f"Everything, as JSON: ktrdr ops show {op.operation_id} --json", style="dim"))
    return Group(*parts)
