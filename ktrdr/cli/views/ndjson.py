"""The NDJSON view (``--progress json``): one JSON object per line for every change seen,
flushed line by line, for CI logs and tools that read a watch as it happens.

Every object has ``event``, ``operation_id``, ``status``, ``percentage``, ``phase``,
``step``, ``child`` (the active child's ``operation_id``, ``operation_type``, ``status``,
``percentage``, ``step``, or null), ``children`` (every running child: those keys plus
``role``, ``fold``, ``candidate``), ``eta_seconds``, ``eta_low``, ``eta_high`` and
``overdue`` (a running research cycle's ETA as of the backend's last answer, learned from
its completed cycles; null when it has none) and ``ts`` (ISO-8601 UTC, when the line was
written), plus what the event needs: ``result_summary`` on ``completed``,
``error_message`` on ``failed``, ``stopped`` on ``cancelled``, ``stalled_for`` on
``stalled``, ``change`` and ``subject`` (the child it is about) on ``child``, and so on.
Keys are only ever added. The README's "Watching from scripts" section is the schema for
users; keep them together.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from ktrdr.cli.output import reader_went_away
from ktrdr.cli.views.labels import is_research
from ktrdr.cli.views.outcomes import OutcomeLine
from ktrdr.client.follow import Event, EventKind, ViewState, describe_stop, phases_before
from ktrdr.contract.operations import OperationPublic

EVENT_NAMES = (
    "started",
    "progress",
    "phase",
    "child",
    "stalled",
    "resumed",
    "connection_lost",
    "connection_restored",
    "cancelling",
    "completed",
    "failed",
    "cancelled",
    "lost",
    "gave_up",
)
ETA_KEYS = ("eta_seconds", "eta_low", "eta_high", "overdue")
REQUIRED_KEYS = (
    "event",
    "operation_id",
    "status",
    "percentage",
    "phase",
    "step",
    "child",
    "children",
    *ETA_KEYS,
    "ts",
)


def utc_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _child(op: OperationPublic | None) -> dict[str, Any] | None:
    if op is None:
        return None
    return {
        "operation_id": op.operation_id,
        "operation_type": op.operation_type.value,
        "status": op.status.value,
        "percentage": op.progress.percentage,
        "step": op.progress.current_step,
    }


def _member(op: OperationPublic) -> dict[str, Any]:
    """One of ``children``: a child's ``child`` keys and where it sits in a walk-forward
    cycle (null for a child that is not part of one)."""
    params = op.metadata.parameters
    return {
        **(_child(op) or {}),
        "role": params.get("role"),
        "fold": params.get("fold"),
        "candidate": params.get("candidate"),
    }


def _subject(event: Event, state: ViewState) -> dict[str, Any]:
    """The child a ``child`` line is about, as last seen; only its id when the answer
    did not carry it."""
    op = event.operation
    if op is None and state.child is not None and state.child.operation_id == event.detail:
        op = state.child
    if op is not None:
        return _member(op)
    keys = ("operation_type", "status", "percentage", "step", "role", "fold", "candidate")
    return {"operation_id": event.detail, **dict.fromkeys(keys)}


def _eta(parent: OperationPublic | None) -> dict[str, Any]:
    """The cycle's ETA keys (null when unknown or ended); a new ETA alone writes no line."""
    if parent is None or parent.is_terminal:
        return dict.fromkeys(ETA_KEYS)
    return {
        "eta_seconds": parent.eta_seconds,
        "eta_low": parent.eta_low,
        "eta_high": parent.eta_high,
        "overdue": parent.overdue,
    }


def _progress_key(state: ViewState) -> tuple[object, ...]:
    """What a ``progress`` line reports: a new line only when one of these changed."""
    parent, child = state.parent, state.child
    return (
        parent.progress.percentage if parent else None,
        parent.progress.current_step if parent else None,
        None if child is None else child.operation_id,
        None if child is None else child.progress.percentage,
        None if child is None else child.progress.current_step,
        tuple(
            (op.operation_id, op.progress.percentage, op.progress.current_step)
            for op in state.children.running
        ),
    )


class NdjsonRenderer:
    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        stamp: Callable[[], str] = utc_stamp,
    ) -> None:
        # None: the streams at the time of writing (tests swap sys.stdout)
        self._out = out
        self._err = err
        self._stamp = stamp
        self._state = ViewState(operation_id="")
        self._last_progress: tuple[object, ...] | None = None
        self._ended = False  # a closing event (completed, lost, ...) is out
        self.cancelling = False

    def _emit(self, event: str, **extra: Any) -> None:
        state = self._state
        parent = state.parent
        line = {
            "event": event,
            "operation_id": parent.operation_id if parent else state.operation_id,
            "status": parent.status.value if parent else None,
            "percentage": parent.progress.percentage if parent else None,
            "phase": state.phase,
            "step": parent.progress.current_step if parent else None,
            "child": _child(state.child),
            "children": [_member(op) for op in state.children.running],
            **_eta(parent),
            "ts": self._stamp(),
            **extra,
        }
        out = self._out or sys.stdout
        try:
            out.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            out.flush()
        except BrokenPipeError:
            reader_went_away()

    def start(self) -> None:
        return None

    def update(self, state: ViewState, events: Sequence[Event] = ()) -> None:
        self._state = state
        emitted = False
        for event in events:
            emitted = self._event(event, state) or emitted
        key = _progress_key(state)
        if state.parent is not None and not state.done:
            if not emitted and key != self._last_progress:
                self._emit("progress")
            self._last_progress = key

    def _event(self, event: Event, state: ViewState) -> bool:
        """Write the line for one follower event; whether it carried the current state."""
        kind, parent = event.kind, state.parent
        if kind is EventKind.STARTED:
            self._emit("started")
            if is_research(parent) and parent is not None:
                for phase in phases_before(parent):  # over before the first answer
                    self._emit("phase", phase=phase, passed=True)
        elif kind is EventKind.PHASE_PASSED:
            self._emit("phase", phase=event.detail, passed=True)
            return False
        elif kind is EventKind.PHASE_CHANGED:
            if parent is not None and parent.is_terminal:
                return False  # the closing event says it
            self._emit("phase", passed=False)
        elif kind is EventKind.CHILD_APPEARED:
            self._emit("child", change="appeared", subject=_subject(event, state))
        elif kind is EventKind.CHILD_GONE:
            subject = _subject(event, state)
            self._emit("child", change="gone", gone_operation_id=event.detail, subject=subject)
        elif kind is EventKind.STALLED:
            self._emit("stalled", stalled_for=round(state.stalled_for or 0.0, 1))
        elif kind is EventKind.STALL_CLEARED:
            self._emit("resumed")
        elif kind is EventKind.CONNECTION_LOST:
            self._emit("connection_lost", message=event.detail)
        elif kind is EventKind.CONNECTION_RESTORED:
            self._emit("connection_restored")
        elif kind is EventKind.FINISHED and parent is not None:
            self._finished(parent, state)
        elif kind is EventKind.OPERATION_LOST:
            self._ended = True
            self._emit("lost", message="Operation not found — may have been lost")
        elif kind is EventKind.GAVE_UP:
            self._ended = True
            self._emit("gave_up", down_for=round(state.connection.down_for, 1))
        else:
            return False
        return True

    def _finished(self, parent: OperationPublic, state: ViewState) -> None:
        self._ended = True
        status = parent.status.value
        if status == "completed":
            self._emit("completed", result_summary=parent.result_summary)
        elif status == "failed":
            self._emit("failed", error_message=parent.error_message)
        else:
            self._emit("cancelled", stopped=describe_stop(parent, state.child))

    def show_cancelling(self) -> None:
        self.cancelling = True
        self._emit("cancelling")

    def note(self, text: str) -> None:
        (self._err or sys.stderr).write(text + "\n")

    def stop(self) -> None:
        return None

    def finish(self, lines: Sequence[OutcomeLine]) -> None:
        """The closing event is already out; when the follow ended without one (the cancel
        is still under way), the reason goes to stderr so stdout stays pure NDJSON."""
        if not self._ended and lines:
            self.note(lines[0][0])
