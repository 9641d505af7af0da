"""Rich rendering for the CLI: tables and operation details (the live monitor lives here too)."""

from __future__ import annotations

import json
import sys

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ktrdr.api.schemas import OperationPublic

_STATUS_STYLE = {
    "pending": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def stdout_console() -> Console:
    return Console(file=sys.stdout, highlight=False)


def _when(op: OperationPublic) -> str:
    return op.created_at.strftime("%Y-%m-%d %H:%M:%S")


def operations_table(ops: list[OperationPublic]) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for col in ("ID", "Type", "Status", "Progress", "Step", "Created (UTC)"):
        table.add_column(col, no_wrap=col in ("ID", "Status"))
    for op in ops:
        table.add_row(
            op.operation_id,
            op.operation_type.value,
            Text(op.status.value, style=_STATUS_STYLE.get(op.status.value, "")),
            f"{op.progress.percentage:.0f}%",
            op.progress.current_step or "",
            _when(op),
        )
    return table


def operation_details(op: OperationPublic) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Operation", op.operation_id)
    grid.add_row("Type", op.operation_type.value)
    grid.add_row("Status", Text(op.status.value, style=_STATUS_STYLE.get(op.status.value, "")))
    if op.cancel_requested and not op.is_terminal:
        grid.add_row("", Text("cancel requested", style="magenta"))
    grid.add_row("Progress", f"{op.progress.percentage:.1f}%  {op.progress.current_step or ''}")
    if op.parent_operation_id:
        grid.add_row("Parent", op.parent_operation_id)
    grid.add_row("Created", _when(op))
    if op.elapsed_seconds is not None:
        grid.add_row("Elapsed", f"{op.elapsed_seconds:.1f}s")
    if op.metadata.parameters:
        grid.add_row("Parameters", json.dumps(op.metadata.parameters, default=str))
    if op.error_message:
        grid.add_row("Error", Text(op.error_message, style="red"))
    if op.result_summary:
        grid.add_row("Result", json.dumps(op.result_summary, indent=2, default=str))
    parts: list[RenderableType] = [grid]
    if op.children:
        kids = Table(title="Children", show_edge=False, header_style="bold")
        for col in ("ID", "Type", "Status", "Progress"):
            kids.add_column(col)
        for c in op.children:
            kids.add_row(
                c.operation_id,
                c.operation_type.value,
                Text(c.status.value, style=_STATUS_STYLE.get(c.status.value, "")),
                f"{c.percentage:.0f}%",
            )
        parts.append(kids)
    return Group(*parts)
