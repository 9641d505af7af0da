"""The live view: one Rich Live region with the parent's bar, its step and the nested child bar
(a bar per running child, up to six, when a cycle runs several at once), redrawn on every view
state and ticking its clocks between answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ktrdr.cli.views import figures
from ktrdr.cli.views.children import (
    MAX_CHILD_LINES,
    child_name,
    child_rows,
    child_tags,
    others_text,
    runs_several,
)
from ktrdr.cli.views.console import live_region
from ktrdr.cli.views.eta import eta_text
from ktrdr.cli.views.labels import (
    CHILD_LABEL,
    CONNECTION_LOST,
    TITLES,
    cancelling_text,
    is_research,
    stall_text,
    training_stats,
)
from ktrdr.cli.views.outcomes import OutcomeLine
from ktrdr.client.follow import Event, ViewState
from ktrdr.contract.operations import OperationPublic
from ktrdr.records.models import OperationStatus

BAR_WIDTH = 36
SUMMARY_INDENT = 3  # columns: a completion summary's details, under its headline


def _elapsed(op: OperationPublic, received_at: float, now: float) -> float | None:
    if op.elapsed_seconds is None:
        return None
    if op.is_terminal:
        return op.elapsed_seconds
    return op.elapsed_seconds + max(0.0, now - received_at)


LABEL_MIN_WIDTH = 28


@dataclass(frozen=True)
class _Bar:
    label: Text
    percentage: float
    timing: str


def _bar(
    label: str, percentage: float, elapsed: float | None, eta: float | None, indent: str
) -> _Bar:
    timing = figures.clock(elapsed)
    if eta is not None:
        timing += f"  ETA {figures.clock(eta)}"
    text = Text(f"{indent}{label} [{figures.progress(percentage)}]", style="" if indent else "bold")
    return _Bar(text, percentage, timing)


def _with_cycle_eta(bar: _Bar, parent: OperationPublic, received_at: float, now: float) -> _Bar:
    """A research cycle's bar with its ETA learned from past cycles (``ETA ~45 s``) beside
    its clock: a figure of its own, since the bar's percentage moves in phase steps."""
    text = eta_text(parent, received_at, now)
    return bar if text is None else _Bar(bar.label, bar.percentage, f"{bar.timing}  {text}")


def _child_label(child: OperationPublic, named: bool) -> str:
    """The seed's label is the child's step alone (one child: the parent says what it is);
    ``named``, its kind and tags come first, so several bars tell apart."""
    queued = child.status is OperationStatus.PENDING
    step = child.progress.current_step
    if not named:
        return step or CHILD_LABEL.get(child.operation_type, "") + (" (queued)" if queued else "")
    name = child_name(child)
    if queued:
        return f"{name} (queued)"
    return f"{name} · {step}" if step else name


def _child_bar(
    child: OperationPublic, received_at: float, now: float, named: bool, eta_now: float | None
) -> _Bar:
    """``eta_now``: the time the ETA is worked out at; the last answer's while the
    connection is lost, since without new progress the estimate only grows (by 9 s a
    second at 10%): a figure that cannot be updated stays as it was last known. None: no
    ETA (the cycle stopped, so the child never will finish)."""
    label = _child_label(child, named)
    pct = child.progress.percentage
    elapsed = _elapsed(child, received_at, now)
    known = _elapsed(child, received_at, eta_now) if eta_now is not None else None
    eta = known * (100.0 - pct) / pct if known is not None and pct > 0 else None
    return _bar(label, pct, elapsed, eta, "   └─ ")


def _bar_row(bar: _Bar, label_width: int, timing_width: int) -> Table:
    """One bar as a grid row. Parent and child bars are separate grids (the lines between
    them are free text, never cut to a column's width) with the same column widths, so
    their bars line up, also where a narrow terminal squeezes them."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=label_width)
    grid.add_column(width=BAR_WIDTH, no_wrap=True)
    grid.add_column(no_wrap=True, width=timing_width)
    grid.add_row(
        bar.label,
        ProgressBar(total=100.0, completed=bar.percentage, width=BAR_WIDTH),
        Text(bar.timing, style="dim"),
    )
    return grid


def _step_line(parent: OperationPublic) -> Text | None:
    """The line under the parent's bar: its step (a cycle's phase), or that it is queued. A
    cycle stopped short (cancelled, failed) keeps the step it stopped at as it was shown."""
    step = parent.progress.current_step or ""
    if is_research(parent):
        if parent.status is OperationStatus.COMPLETED or not step:
            step = f"Phase: {step or 'starting...'}"
    elif parent.status is OperationStatus.PENDING:
        return Text("   Queued: waiting for a free worker...", style="yellow")
    return Text(f"   {step}", style="cyan") if step else None


def monitor_view(state: ViewState, now: float, cancelling: bool = False) -> RenderableType:
    """The live region: parent bar, its step, the nested child bars, warnings.

    A lost connection takes the step line's place (the step shown would be stale); a
    stall notice sits under the step line while the work stays silent."""
    parent = state.parent
    if parent is None:
        text = "Connecting..." if state.connection.ok else CONNECTION_LOST
        return Text(text, style="yellow" if not state.connection.ok else "dim")
    title = TITLES.get(parent.operation_type, parent.operation_type.value)
    elapsed = _elapsed(parent, state.received_at, now)
    top = _bar(title, parent.progress.percentage, elapsed, None, "")
    eta_now = now if state.connection.ok else state.received_at  # frozen while lost
    bars = [_with_cycle_eta(top, parent, state.received_at, eta_now)]
    research = is_research(parent)
    rows = child_rows(state)[:MAX_CHILD_LINES] if research else []
    several = runs_several(state)
    # A stopped cycle's children keep their last bars, without an ETA they will never meet.
    child_eta_now = eta_now if not parent.is_terminal else None
    bars += [
        _child_bar(op, state.received_at, now, several or bool(child_tags(op)), child_eta_now)
        for op in rows
    ]
    width = max(LABEL_MIN_WIDTH, *(bar.label.cell_len for bar in bars))
    timing_width = max(len(bar.timing) for bar in bars)
    parts: list[RenderableType] = [_bar_row(bars[0], width, timing_width)]
    step_line = _step_line(parent)
    if not state.connection.ok:
        parts.append(Text(f"   {CONNECTION_LOST}", style="yellow"))
    elif step_line is not None:
        parts.append(step_line)
    if state.connection.ok and state.stalled_for is not None and not parent.is_terminal:
        parts.append(Text(f"   {stall_text(state.stalled_for)}", style="yellow"))
    for number, bar in enumerate(bars[1:]):
        parts.append(_bar_row(bar, width, timing_width))
        if number == 0:
            # The active child's epoch figures, right under its own bar (under the bars, so
            # a long line never widens the label column and shifts the bars).
            parts += _stats_line(state.child if research else None, "      ")
    if not research:
        parts += _stats_line(parent, "   ")
    others = others_text(state, len(rows)) if research and several else None
    if others is not None:
        parts.append(Text(f"      {others}", style="dim"))
    if cancelling:
        parts.append(Text(cancelling_text(parent), style="magenta"))
    return Group(*parts)


def _stats_line(trainee: OperationPublic | None, indent: str) -> list[RenderableType]:
    stats = training_stats(trainee) if trainee is not None else None
    return [Text(f"{indent}{stats}", style="dim")] if stats else []


def _stopped_frame(before: ViewState | None, state: ViewState) -> ViewState:
    """A cycle that stopped short (cancelled, failed) has no running child left in its last
    answer: its last frame keeps the children's bars as they were last shown, so the screen
    says where the work stopped, above the line that says it in words."""
    parent = state.parent
    if parent is None or not parent.is_terminal or parent.status is OperationStatus.COMPLETED:
        return state
    if before is None or state.child is not None or state.children.running:
        return state
    return replace(state, child=before.child, children=before.children)


class LiveRenderer:
    """One Rich live region, redrawn on every view state; nothing else is printed meanwhile."""

    def __init__(self, console: Console, clock: Callable[[], float]) -> None:
        self.console = console
        self._clock = clock
        self._live = live_region(console)
        self._state: ViewState | None = None
        self.cancelling = False
        self._started = False

    def start(self) -> None:
        # A blank line between the command (and any line before the region) and the first bar.
        self.console.print()
        self._live.start()
        self._started = True

    def update(self, state: ViewState, events: Sequence[Event] = ()) -> None:
        del events  # the region is redrawn whole: a state says everything
        self._state = _stopped_frame(self._state, state)
        state = self._state
        self._live.update(monitor_view(state, self._clock(), self.cancelling), refresh=True)

    def show_cancelling(self) -> None:
        self.cancelling = True
        if self._state is not None:
            self.update(self._state)

    def note(self, text: str) -> None:
        # soft_wrap: notes name commands to copy, which a hard wrap would break
        self.console.print(Text(text, style="yellow"), soft_wrap=True)

    def stop(self) -> None:
        # The last frame stays on screen as it is, the cancel notice included: it belongs
        # above the "Cancelled" line that follows.
        if self._started:
            if self._state is not None:
                view = monitor_view(self._state, self._clock(), self.cancelling)
                self._live.update(view, refresh=True)
            self._live.stop()
            self._started = False

    def finish(self, lines: Sequence[OutcomeLine]) -> None:
        """The closing lines under the last frame. A summary (a headline with details) is
        set off by a blank line, its details indented under the headline."""
        self.stop()
        if len(lines) > 1:
            self.console.print()
        for number, (text, style) in enumerate(lines):
            # Padding, not leading spaces: a long line (a model path) wraps indented too.
            indent = SUMMARY_INDENT if number else 0
            self.console.print(Padding(Text(text, style=style), (0, 0, 0, indent), expand=False))
