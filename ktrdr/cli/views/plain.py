"""The plain view, for pipes, CI logs and NO_COLOR: one plain line per change, no cursor
movement, and progress only every tenth of the way so a log stays readable.

A cycle running several children at once gets one line as each child starts and one as it
ends; progress lines stay the active child's, as for a cycle with one child at a time.

Every phase a cycle goes through gets its line, in order: one seen gets its step and
percentage, one that began and ended between two answers (or before the first) says so."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from ktrdr.cli.views.children import child_name, child_tags, runs_several
from ktrdr.cli.views.eta import eta_text
from ktrdr.cli.views.figures import progress
from ktrdr.cli.views.labels import (
    CONNECTION_LOST,
    TITLES,
    cancelling_text,
    is_research,
    resumed_text,
    stall_text,
    training_stats,
)
from ktrdr.cli.views.outcomes import OutcomeLine
from ktrdr.client.follow import Event, EventKind, ViewState, phase_or_status, phases_before
from ktrdr.contract.operations import OperationPublic
from ktrdr.contract.progress import PHASE_STEP
from ktrdr.records.models import OperationStatus

_STEP = {phase.value: step for phase, step in PHASE_STEP.items()}


class PlainRenderer:
    def __init__(self, console: Console) -> None:
        self.console = console
        self._child_decile: dict[str, int] = {}
        self._single_decile = -1
        self.cancelling = False
        self._parent: OperationPublic | None = None
        self._stalled_for: float | None = None  # the last stall seen, for the resume line

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def start(self) -> None:
        return None

    def update(self, state: ViewState, events: Sequence[Event] = ()) -> None:
        parent = state.parent
        self._parent = parent or self._parent
        for event in events:
            self._event_line(event, parent, state)
        if state.stalled_for is not None:
            self._stalled_for = state.stalled_for
        if parent is None:
            return
        if state.child is not None:
            self._child_progress(state.child)
        elif not is_research(parent) and parent.status is OperationStatus.RUNNING:
            self._single_progress(parent)

    def _event_line(self, event: Event, parent: OperationPublic | None, state: ViewState) -> None:
        if event.kind is EventKind.STARTED and parent is not None:
            self._status_line(parent)
            if is_research(parent):
                for phase in phases_before(parent):
                    self._passed_line(phase, "done before the first update")
                self._phase_line(parent)
        elif event.kind is EventKind.PHASE_PASSED:
            self._passed_line(event.detail, "began and ended between updates")
        elif event.kind is EventKind.PHASE_CHANGED and parent is not None:
            if is_research(parent):
                self._phase_line(parent)
            elif not parent.is_terminal:  # e.g. pending -> running; the end has its lines
                self._status_line(parent)
        elif event.kind is EventKind.STALLED and state.stalled_for is not None:
            self._line(stall_text(state.stalled_for))
        elif event.kind is EventKind.STALL_CLEARED:
            self._line(resumed_text(self._stalled_for))
            self._stalled_for = None
        elif event.kind is EventKind.CONNECTION_LOST:
            self._line(CONNECTION_LOST)
        elif event.kind is EventKind.CONNECTION_RESTORED:
            self._line("Connection restored")
        elif event.kind in (EventKind.CHILD_APPEARED, EventKind.CHILD_GONE):
            self._child_line(event, state)

    def _child_line(self, event: Event, state: ViewState) -> None:
        """``  Training c2 f3: started`` / ``: completed``, for a cycle that runs several
        children (a classic cycle's one child at a time says it through its phase)."""
        child = event.operation
        if child is None and state.child is not None:
            child = state.child if state.child.operation_id == event.detail else None
        if child is None or not (runs_several(state) or child_tags(child)):
            return
        if event.kind is EventKind.CHILD_APPEARED:
            words = {OperationStatus.RUNNING: "started", OperationStatus.PENDING: "queued"}
            what = words.get(child.status, child.status.value)
        else:
            what = child.status.value if child.is_terminal else "ended"
        self._line(f"  {child_name(child, 'Child')}: {what} ({child.operation_id})")

    def _child_progress(self, child: OperationPublic) -> None:
        if not child.progress.current_step:
            return  # a child not yet reporting: its "started" line said all there is
        decile = int(child.progress.percentage // 10)
        if decile > self._child_decile.get(child.operation_id, -1) and not child.is_terminal:
            self._child_decile[child.operation_id] = decile
            label = child_name(child, "Child")
            stats = training_stats(child)
            self._line(
                f"  {label}: {child.progress.current_step or ''} "
                f"({progress(child.progress.percentage)})" + (f"  {stats}" if stats else "")
            )

    def _single_progress(self, op: OperationPublic) -> None:
        decile = int(op.progress.percentage // 10)
        if decile > self._single_decile:
            self._single_decile = decile
            stats = training_stats(op)
            self._line(
                f"  {op.progress.current_step or ''} ({progress(op.progress.percentage)})"
                + (f"  {stats}" if stats else "")
            )

    def _status_line(self, op: OperationPublic) -> None:
        name = TITLES.get(op.operation_type, "Operation").split(" ", 1)[-1]
        self._line(f"{name} {op.operation_id}: {op.status.value}")

    def _passed_line(self, phase: str, when: str) -> None:
        self._line(f"Phase: {_STEP.get(phase, phase)} ({when})")

    def _phase_line(self, parent: OperationPublic) -> None:
        step = parent.progress.current_step or phase_or_status(parent)
        eta = eta_text(parent)  # as of this answer: a log line is not redrawn
        suffix = f"  {eta}" if eta is not None else ""
        self._line(f"Phase: {step} ({progress(parent.progress.percentage)}){suffix}")

    def show_cancelling(self) -> None:
        self.cancelling = True
        self._line(cancelling_text(self._parent))

    def note(self, text: str) -> None:
        self._line(text)

    def stop(self) -> None:
        return None

    def finish(self, lines: Sequence[OutcomeLine]) -> None:
        for text, _style in lines:
            self._line(text)
