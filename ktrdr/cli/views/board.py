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
from ktrdr.cli.views.children import child_rows
from ktrdr.cli.views.console import live_region
from ktrdr.cli.views.eta import approx, batch_eta
from ktrdr.client.follow import ViewState, describe_stop
from ktrdr.contract.operations import OperationPublic
from ktrdr.operations.summary import summarize
from ktrdr.records.models import OperationStatus

BAR_WIDTH = 24


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


def board_view(
    states: Sequence[ViewState], seeds: Sequence[int | None], now: float | None = None
) -> RenderableType:
    """``now``: the follower's clock, to count the batch's ETA down between answers."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)  # id and seed
    grid.add_column(no_wrap=True, min_width=14)  # phase or outcome
    grid.add_column(width=BAR_WIDTH, no_wrap=True)  # the child's bar
    grid.add_column(no_wrap=True)  # the child's percentage and step
    for state, seed in zip(states, seeds, strict=True):
        words, style = cycle_words(state)
        label = Text(f"{short_id(state.operation_id)} seed {seed if seed is not None else '-'}")
        rows = child_rows(state)
        if rows and not (state.parent and state.parent.is_terminal):
            child, pct = rows[0], rows[0].progress.percentage
            others = f" (+{len(rows) - 1})" if len(rows) > 1 else ""
            step = f"{pct:3.0f}% {child.progress.current_step or ''}".rstrip()
            grid.add_row(
                label,
                Text(words, style=style),
                ProgressBar(total=100.0, completed=pct, width=BAR_WIDTH),
                Text(step + others, style="dim"),
            )
        else:
            grid.add_row(label, Text(words, style=style), Text(""), Text(""))
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
