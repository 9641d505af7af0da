"""Rich rendering for the CLI: tables and operation details (the live monitor lives here too)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ktrdr.api.schemas import OperationPublic
from ktrdr.client.follow import Event, EventKind, ViewState, describe_stop, phase_of

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


def tree_order(ops: Sequence[OperationPublic]) -> list[tuple[int, OperationPublic]]:
    """``ops`` (newest first) with every child listed right under its parent, oldest child
    first (training before backtest), as (depth, operation). A child whose parent is not
    in ``ops`` stays where it was, at depth 0."""
    present = {op.operation_id for op in ops}
    children: dict[str, list[OperationPublic]] = {}
    for op in ops:
        if op.parent_operation_id in present:
            children.setdefault(op.parent_operation_id or "", []).append(op)
    ordered: list[tuple[int, OperationPublic]] = []

    def visit(op: OperationPublic, depth: int) -> None:
        ordered.append((depth, op))
        for child in sorted(children.get(op.operation_id, []), key=lambda c: c.created_at):
            visit(child, depth + 1)

    for op in ops:
        if op.parent_operation_id not in present:
            visit(op, 0)
    return ordered


def operations_table(ops: list[OperationPublic], width: int = 160) -> Table:
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
        else [
            "Status",
            "Progress",
            "Step",
        ]
    )
    for col in columns:
        table.add_column(col, no_wrap=col in ("Status", "Progress"))
    for label, op in rows:
        cells: dict[str, Text | str] = {
            "Type": op.operation_type.value,
            "Status": Text(op.status.value, style=_STATUS_STYLE.get(op.status.value, "")),
            "Progress": f"{op.progress.percentage:.0f}%",
            "Step": op.progress.current_step or "",
            "Created (UTC)": _when(op),
        }
        table.add_row(label, *(cells[col] for col in columns))
    return table


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


def operation_details(op: OperationPublic) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
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
    if op.error_message:
        grid.add_row("Error", Text(op.error_message, style="red"))
    parts: list[RenderableType] = [grid]
    for title, mapping in (("Parameters", op.metadata.parameters), ("Result", op.result_summary)):
        shown = {k: v for k, v in (mapping or {}).items() if v is not None}
        if not shown:
            continue
        section = Table.grid(padding=(0, 2))
        section.add_column(style="bold", no_wrap=True)
        section.add_column()
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
                Text(c.status.value, style=_STATUS_STYLE.get(c.status.value, "")),
                f"{c.percentage:.0f}%",
            )
        parts.append(kids)
    parts.append(Text(f"Everything, as JSON: ktrdr ops show {op.operation_id} --json", style="dim"))
    return Group(*parts)


# --------------------------------------------------------------------------- live monitor

_TITLES = {
    "agent_research": "🔬 Research Cycle",
    "training": "🧠 Training",
    "backtesting": "📈 Backtest",
}
_CHILD_LABEL = {"training": "Training", "backtesting": "Backtest"}
BAR_WIDTH = 36


def cancelling_text(parent: OperationPublic | None) -> str:
    research = parent is not None and parent.operation_type.value == "agent_research"
    return f"⚠️ Cancelling {'research cycle' if research else 'operation'}..."


def clock_text(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "--:--"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _elapsed(op: OperationPublic, received_at: float, now: float) -> float | None:
    if op.elapsed_seconds is None:
        return None
    if op.is_terminal:
        return op.elapsed_seconds
    return op.elapsed_seconds + max(0.0, now - received_at)


def _monitor_grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, min_width=28)
    grid.add_column(width=BAR_WIDTH, no_wrap=True)
    grid.add_column(no_wrap=True)
    return grid


def _add_bar(
    grid: Table,
    label: str,
    percentage: float,
    elapsed: float | None,
    eta: float | None,
    indent: str,
) -> None:
    from rich.progress_bar import ProgressBar

    timing = clock_text(elapsed)
    if eta is not None:
        timing += f"  ETA {clock_text(eta)}"
    grid.add_row(
        Text(f"{indent}{label} [{percentage:.0f}%]", style="" if indent else "bold"),
        ProgressBar(total=100.0, completed=percentage, width=BAR_WIDTH),
        Text(timing, style="dim"),
    )


def training_stats(op: OperationPublic) -> str | None:
    """The latest epoch's numbers from a training's progress context, if it has any."""
    if op.operation_type.value != "training" or op.is_terminal:
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


def monitor_view(state: ViewState, now: float, cancelling: bool = False) -> RenderableType:
    """The live region: parent bar, its step, the nested child bar, warnings."""
    parent = state.parent
    if parent is None:
        text = "Connecting..." if state.connection.ok else "⚠ Connection lost, retrying..."
        return Text(text, style="yellow" if not state.connection.ok else "dim")
    grid = _monitor_grid()
    title = _TITLES.get(parent.operation_type.value, parent.operation_type.value)
    elapsed = _elapsed(parent, state.received_at, now)
    _add_bar(grid, title, parent.progress.percentage, elapsed, None, "")
    step = parent.progress.current_step or ""
    child = state.child
    if parent.operation_type.value == "agent_research":
        if parent.is_terminal or not step:
            step = f"Phase: {step or 'starting...'}"
        grid.add_row(Text(f"   {step}", style="cyan"))
        if child is not None:
            fallback = _CHILD_LABEL.get(child.operation_type.value, "")
            if child.status.value == "pending":
                fallback += " (queued)"
            label = child.progress.current_step or fallback
            pct = child.progress.percentage
            child_elapsed = _elapsed(child, state.received_at, now)
            eta = (
                child_elapsed * (100.0 - pct) / pct
                if child_elapsed is not None and pct > 0
                else None
            )
            _add_bar(grid, label, pct, child_elapsed, eta, "   └─ ")
    elif parent.status.value == "pending":
        grid.add_row(Text("   Queued: waiting for a free worker...", style="yellow"))
    elif step:
        grid.add_row(Text(f"   {step}", style="cyan"))
    parts: list[RenderableType] = [grid]
    # Outside the grid, so a long line never widens the label column and shifts the bars.
    trainee = child if parent.operation_type.value == "agent_research" else parent
    stats = training_stats(trainee) if trainee is not None else None
    if stats:
        indent = "      " if trainee is child else "   "
        parts.append(Text(f"{indent}{stats}", style="dim"))
    if not state.connection.ok:
        parts.append(Text("⚠ Connection lost, retrying...", style="yellow"))
    if cancelling:
        parts.append(Text(cancelling_text(parent), style="magenta"))
    return Group(*parts)


def _pct(value: Any) -> str:
    return f"{float(value):.0%}" if isinstance(value, int | float) else "-"


def _num(value: Any, fmt: str = ".2f") -> str:
    return format(float(value), fmt) if isinstance(value, int | float) else "-"


def outcome_lines(
    state: ViewState, *, interrupted: bool = False, base_url: str = ""
) -> list[tuple[str, str]]:
    """The closing lines, as (text, style) pairs, for every way a follow can end."""
    parent = state.parent
    if state.lost:
        return [("Operation not found — may have been lost due to restart", "red")]
    if state.gave_up or parent is None:
        return [
            (
                f"✗ Gave up: the backend at {base_url or 'the configured URL'} has not answered "
                f"for {state.connection.down_for:.0f}s. The operation may still be running; "
                f"re-attach with: ktrdr ops follow {state.operation_id}",
                "red",
            )
        ]
    kind = parent.operation_type.value
    name = {"agent_research": "Research cycle", "training": "Training", "backtesting": "Backtest"}[
        kind
    ]
    summary = parent.result_summary or {}
    status = parent.status.value
    if status == "completed":
        lines = [(f"✓ {name} complete!", "bold green")]
        if kind == "agent_research":
            lines.append((f"Strategy: {summary.get('strategy_name', '-')}", ""))
            lines.append((f"Verdict: {summary.get('verdict', '-')}", "bold"))
            lines.append(
                (
                    f"Sharpe: {_num(summary.get('sharpe_ratio'))} | Win Rate: "
                    f"{_pct(summary.get('win_rate'))} | Max DD: "
                    f"{_pct(summary.get('max_drawdown'))}",
                    "",
                )
            )
            bench = summary.get("benchmark") or {}
            if bench.get("sharpe_ratio") is not None:
                lines.append(
                    (
                        f"Buy & hold, same bars: Sharpe {_num(bench.get('sharpe_ratio'))} | "
                        f"Return {_pct(bench.get('total_return'))} | "
                        f"Max DD {_pct(bench.get('max_drawdown'))}",
                        "dim",
                    )
                )
            training = summary.get("training") or {}
            backtest = summary.get("backtest") or {}
            lines.append(
                (
                    f"Training: {training.get('epochs', '-')} epochs, val accuracy "
                    f"{_pct(training.get('accuracy'))} | Backtest: {backtest.get('symbol', '-')} "
                    f"{str(backtest.get('start') or '')[:10]} → "
                    f"{str(backtest.get('end') or '')[:10]}, {summary.get('trades', '-')} trades",
                    "dim",
                )
            )
        elif kind == "training":
            lines.append(
                (
                    f"Epochs: {summary.get('epochs_completed', '-')}/"
                    f"{summary.get('epochs_total', '-')} | Val accuracy: "
                    f"{_pct(summary.get('val_accuracy'))} | Val loss: "
                    f"{_num(summary.get('val_loss'), '.4f')}",
                    "",
                )
            )
            lines.append((f"Model: {summary.get('model_path', '-')}", "dim"))
        else:
            m = summary.get("metrics") or {}
            bench = summary.get("benchmark") or {}
            lines.append(
                (
                    f"Sharpe: {_num(m.get('sharpe_ratio'))} | Return: "
                    f"{_pct(m.get('total_return'))} | Max DD: {_pct(m.get('max_drawdown'))} | "
                    f"Win Rate: {_pct(m.get('win_rate'))} | Trades: {m.get('num_trades', '-')}",
                    "",
                )
            )
            if bench:
                lines.append(
                    (
                        f"Buy & hold, same bars: Sharpe {_num(bench.get('sharpe_ratio'))} | "
                        f"Return {_pct(bench.get('total_return'))} | "
                        f"Max DD {_pct(bench.get('max_drawdown'))}",
                        "dim",
                    )
                )
            lines.append(
                (
                    f"{summary.get('symbol', '')} {summary.get('start', '')[:10]} → "
                    f"{summary.get('end', '')[:10]}, {summary.get('bars', '-')} bars; "
                    f"detail: {summary.get('detail_path', '-')}",
                    "dim",
                )
            )
        return lines
    if status == "failed":
        return [(f"✗ {name} failed: {parent.error_message or 'unknown error'}", "red")]
    if status == "cancelled":
        return [(f"✓ Cancelled. {describe_stop(parent, state.child)}", "magenta")]
    if interrupted:
        return [
            (
                f"⚠ Cancel requested; {name.lower()} is still stopping "
                f"(last seen: {parent.progress.current_step or parent.status.value}). "
                f"Check with: ktrdr ops show {parent.operation_id}",
                "yellow",
            )
        ]
    return [(f"{name} is {status}", "")]


class LiveRenderer:
    """One Rich live region, redrawn on every view state; nothing else is printed meanwhile."""

    def __init__(self, console: Console, clock: Callable[[], float]) -> None:
        from rich.live import Live

        self.console = console
        self._clock = clock
        self._live = Live(
            Text("Connecting...", style="dim"),
            console=console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._state: ViewState | None = None
        self.cancelling = False
        self._started = False

    def start(self) -> None:
        self._live.start()
        self._started = True

    def update(self, state: ViewState, events: Sequence[Event] = ()) -> None:
        del events
        self._state = state
        self._live.update(monitor_view(state, self._clock(), self.cancelling), refresh=True)

    def show_cancelling(self) -> None:
        self.cancelling = True
        if self._state is not None:
            self.update(self._state)

    def note(self, text: str) -> None:
        self._live.console.print(Text(text, style="yellow"))

    def stop(self) -> None:
        if self._started:
            if self._state is not None:
                self._live.update(monitor_view(self._state, self._clock(), False), refresh=True)
            self._live.stop()
            self._started = False

    def finish(self, lines: list[tuple[str, str]]) -> None:
        self.stop()
        for text, style in lines:
            self.console.print(Text(text, style=style))


class PlainRenderer:
    """For pipes, CI logs and NO_COLOR: one plain line per change, no cursor movement."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._child_decile: dict[str, int] = {}
        self._single_decile = -1
        self.cancelling = False
        self._parent: OperationPublic | None = None

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def start(self) -> None:
        return None

    def update(self, state: ViewState, events: Sequence[Event] = ()) -> None:
        parent = state.parent
        self._parent = parent or self._parent
        for event in events:
            if event.kind is EventKind.STARTED and parent is not None:
                self._status_line(parent)
                if parent.operation_type.value == "agent_research":
                    self._phase_line(parent)
            elif event.kind is EventKind.PHASE_PASSED:
                self._line(f"Phase: {event.detail} (began and ended between polls)")
            elif event.kind is EventKind.PHASE_CHANGED and parent is not None:
                if parent.operation_type.value == "agent_research":
                    self._phase_line(parent)
                elif not parent.is_terminal:  # e.g. pending -> running; the end has its lines
                    self._status_line(parent)
            elif event.kind is EventKind.CONNECTION_LOST:
                self._line("⚠ Connection lost, retrying...")
            elif event.kind is EventKind.CONNECTION_RESTORED:
                self._line("Connection restored")
        if parent is None:
            return
        if state.child is not None:
            child = state.child
            decile = int(child.progress.percentage // 10)
            if decile > self._child_decile.get(child.operation_id, -1) and not child.is_terminal:
                self._child_decile[child.operation_id] = decile
                label = _CHILD_LABEL.get(child.operation_type.value, "Child")
                stats = training_stats(child)
                self._line(
                    f"  {label}: {child.progress.current_step or ''} "
                    f"({child.progress.percentage:.0f}%)" + (f"  {stats}" if stats else "")
                )
        elif parent.operation_type.value != "agent_research" and parent.status.value == "running":
            decile = int(parent.progress.percentage // 10)
            if decile > self._single_decile:
                self._single_decile = decile
                stats = training_stats(parent)
                self._line(
                    f"  {parent.progress.current_step or ''} ({parent.progress.percentage:.0f}%)"
                    + (f"  {stats}" if stats else "")
                )

    def _status_line(self, op: OperationPublic) -> None:
        name = _TITLES.get(op.operation_type.value, "Operation").split(" ", 1)[-1]
        self._line(f"{name} {op.operation_id}: {op.status.value}")

    def _phase_line(self, parent: OperationPublic) -> None:
        step = parent.progress.current_step or phase_of(parent)
        self._line(f"Phase: {step} ({parent.progress.percentage:.0f}%)")

    def show_cancelling(self) -> None:
        self.cancelling = True
        self._line(cancelling_text(self._parent))

    def note(self, text: str) -> None:
        self._line(text)

    def stop(self) -> None:
        return None

    def finish(self, lines: list[tuple[str, str]]) -> None:
        for text, _style in lines:
            self._line(text)
