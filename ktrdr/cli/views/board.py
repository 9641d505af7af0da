"""Several research cycles in one view: one compact line per cycle (its phase, its child's
bar, then its verdict), live on a terminal or as plain lines elsewhere. A cycle running
several children at once shows its active child's bar and how many others run: ``(+3)``.

The board is told the whole set of view states each time (one per cycle, in the order the
cycles were started) and draws them; it keeps no state of its own beyond what it printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.console import Console, Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ktrdr.cli.views import figures
from ktrdr.cli.views.children import child_name, child_rows
from ktrdr.cli.views.console import live_region
from ktrdr.cli.views.eta import approx, batch_eta
from ktrdr.client.follow import ViewState, describe_stop
from ktrdr.contract.operations import OperationPublic
from ktrdr.operations.summary import summarize
from ktrdr.records.models import OperationStatus

BAR_WIDTH = 24
NAME_WIDTH = 22  # a designed strategy's name; a longer one ends in "…" (the results say it all)
STATUS_WIDTH = 11  # the longest phase, "backtesting"


def short_id(operation_id: str) -> str:
    """The distinguishing tail of an id (its random part), enough to tell cycles apart."""
    return operation_id.rsplit("_", 1)[-1]


def cycle_words(state: ViewState) -> tuple[str, str]:
    """(what the cycle is doing or how it ended, its style)."""
    cycle = state.parent
    if state.lost:
        return "lost: the backend no longer knows it", "red"
    if state.gave_up:
        return "backend unreachable: gave up", "red"
    if cycle is None:
        return ("connecting..." if state.connection.ok else "connection lost, retrying..."), (
            "dim" if state.connection.ok else "yellow"
        )
    if cycle.is_terminal:
        return outcome_words(cycle, state.child)
    return f"{state.phase or 'starting'}", "cyan"


def outcome_words(cycle: OperationPublic, child: OperationPublic | None) -> tuple[str, str]:
    if cycle.status is OperationStatus.COMPLETED:
        row = summarize(cycle)
        sharpe = figures.number(row.headline.get("sharpe_ratio"))
        return f"✓ {row.verdict or 'completed'} · Sharpe {sharpe}", "green"
    if cycle.status is OperationStatus.CANCELLED:
        return f"cancelled · {describe_stop(cycle, child)}", "magenta"
    return f"✗ failed: {cycle.error_message or 'no reason given'}", "red"


def _status_cells(state: ViewState) -> tuple[str, str, str]:
    """(a short status for the fixed-width column, its style, the words after the bar):
    the verdict goes after the bar, so that it never widens a column and moves the bars."""
    cycle = state.parent
    if state.lost:
        return "lost", "red", "the backend no longer knows it"
    if state.gave_up:
        return "gave up", "red", "backend unreachable"
    if cycle is None:
        if state.connection.ok:
            return "connecting", "dim", ""
        return "retrying", "yellow", "connection lost"
    if cycle.status is OperationStatus.COMPLETED:
        return "done", "green", outcome_words(cycle, state.child)[0]
    if cycle.status is OperationStatus.CANCELLED:
        return "cancelled", "magenta", describe_stop(cycle, state.child)
    if cycle.is_terminal:
        return "failed", "red", f"✗ {cycle.error_message or 'no reason given'}"
    return state.phase or "starting", "cyan", ""


def _strategy_name(state: ViewState) -> str:
    """The designed strategy's name: recorded in the cycle's parameters once designed."""
    cycle = state.parent
    name = cycle.metadata.parameters.get("strategy_name") if cycle is not None else None
    return name if isinstance(name, str) and name else figures.MISSING


def _child_cells(state: ViewState) -> tuple[ProgressBar | Text, Text] | None:
    """The active child's bar and its step; a child that has not reported a step yet (a
    backtest loading its bars) pulses and says it is starting, instead of a bare 0%."""
    rows = child_rows(state)
    if not rows or (state.parent is not None and state.parent.is_terminal):
        return None
    child, pct = rows[0], rows[0].progress.percentage
    others = f" (+{len(rows) - 1})" if len(rows) > 1 else ""
    if not child.progress.current_step and pct <= 0:
        bar = ProgressBar(total=None, width=BAR_WIDTH)
        return bar, Text(f"{child_name(child, 'Child')} starting{others}", style="dim")
    step = f"{pct:3.0f}% {child.progress.current_step or ''}".rstrip()
    return ProgressBar(total=100.0, completed=pct, width=BAR_WIDTH), Text(step + others, "dim")


def board_view(
    states: Sequence[ViewState], seeds: Sequence[int | None], now: float | None = None
) -> RenderableType:
    """``now``: the follower's clock, to count the batch's ETA down between answers. Every
    column but the last has a fixed width, so a row reaching its verdict moves no bar."""
    grid = Table.grid(padding=(0, 1))
    seed_width = max((len(str(seed)) for seed in seeds if seed is not None), default=1)
    grid.add_column(no_wrap=True)  # id and seed (the same width on every row)
    grid.add_column(width=NAME_WIDTH, no_wrap=True, overflow="ellipsis")  # strategy
    grid.add_column(width=STATUS_WIDTH, no_wrap=True, overflow="ellipsis")  # phase/status
    grid.add_column(width=BAR_WIDTH, no_wrap=True)  # the child's bar
    grid.add_column(no_wrap=True)  # the child's step, or the outcome
    for state, seed in zip(states, seeds, strict=True):
        shown_seed = "-" if seed is None else str(seed)
        label = Text(f"{short_id(state.operation_id)} seed {shown_seed:<{seed_width}}")
        status, style, words = _status_cells(state)
        cells = _child_cells(state)
        bar, detail = cells if cells is not None else (Text(""), Text(words, style=style))
        grid.add_row(label, Text(_strategy_name(state)), Text(status, style), bar, detail)
    done = sum(1 for s in states if s.done)
    footer = Text(f"{done}/{len(states)} finished" + _batch_eta_text(states, now), style="dim")
    return Group(grid, footer)


def _batch_eta_text(states: Sequence[ViewState], now: float | None) -> str:
    """`` · ETA ~2 min``: when the batch's last running cycle should end, if every running
    cycle has an ETA."""
    seconds = batch_eta(states, now)
    return "" if seconds is None else f" · ETA ~{approx(seconds)}"


class LiveBoard:
    def __init__(
        self,
        console: Console,
        seeds: Sequence[int | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.seeds = list(seeds)
        self._clock = clock  # the follower's: the batch's ETA counts down on it
        self._live = live_region(console)
        self._started = False

    def start(self) -> None:
        self._live.start()
        self._started = True

    def update(self, states: Sequence[ViewState]) -> None:
        self._live.update(board_view(states, self.seeds, self._clock()), refresh=True)

    def note(self, text: str) -> None:
        self.console.print(Text(text, style="yellow"), soft_wrap=True)

    def stop(self) -> None:
        if self._started:
            self._live.stop()
            self._started = False


class PlainBoard:
    """One line per cycle each time its phase or outcome changes."""

    def __init__(self, console: Console, seeds: Sequence[int | None], clock: Callable[[], float]):
        self.console = console
        self.seeds = list(seeds)
        self._clock = clock
        self._said: dict[str, str] = {}

    def start(self) -> None:
        return None

    def update(self, states: Sequence[ViewState]) -> None:
        for state, seed in zip(states, self.seeds, strict=True):
            if state.parent is None and state.connection.ok and not state.done:
                continue  # nothing heard yet: no line to say so
            words, _ = cycle_words(state)
            if self._said.get(state.operation_id) != words:
                self._said[state.operation_id] = words
                self.console.print(
                    Text(f"{state.operation_id} (seed {seed}): {words}"), soft_wrap=True
                )

    def note(self, text: str) -> None:
        self.console.print(Text(text), soft_wrap=True)

    def stop(self) -> None:
        return None
