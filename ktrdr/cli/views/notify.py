"""Saying that watched work ended: a one-line headline per operation ("verdict promising"),
the sentence a notification carries ("Research cycle op_... completed: verdict promising"),
and ``--notify``'s way of saying it to someone who is not looking at the terminal: the
bell plus an OSC 9 desktop notification (``ESC ] 9 ; text BEL``, which iTerm2, WezTerm,
kitty, Windows Terminal and others turn into a system notification).

Notifications go to a terminal only: escape bytes in a pipe, a log file or NDJSON output
would be garbage for whoever reads it.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from ktrdr.cli.output import terminal_safe
from ktrdr.cli.views.figures import number, percent
from ktrdr.client.follow import ViewState, describe_stop
from ktrdr.contract.operations import OperationPublic
from ktrdr.contract.results import (
    backtest_summary_of,
    research_cycle_summary_of,
    training_summary_of,
)
from ktrdr.records.kinds import KIND_LABEL, kind_noun
from ktrdr.records.models import OperationStatus, OperationType

BELL = "\a"
# A desktop notification's text is one short line; terminals cut long ones anyway.
MAX_NOTIFICATION_CHARS = 200
MAX_ERROR_CHARS = 100


def _completed_headline(op: OperationPublic) -> str:
    if op.operation_type is OperationType.AGENT_RESEARCH:
        cycle = research_cycle_summary_of(op)
        verdict = cycle.verdict if cycle is not None else None
        return f"verdict {verdict}" if verdict else "no verdict recorded"
    if op.operation_type is OperationType.TRAINING:
        training = training_summary_of(op)
        accuracy = training.val_accuracy if training is not None else None
        return f"val accuracy {percent(accuracy, '.1%')}"
    backtest = backtest_summary_of(op)
    metrics = backtest.metrics if backtest is not None else None
    sharpe = metrics.sharpe_ratio if metrics is not None else None
    total = metrics.total_return if metrics is not None else None
    return f"Sharpe {number(sharpe)}, return {percent(total, '.1%')}"


def ended_headline(op: OperationPublic) -> str:
    """How ``op`` ended, in a few words: a verdict, a figure, an error or where it stopped
    (backend text, so made terminal-safe by whoever prints it)."""
    if op.status is OperationStatus.COMPLETED:
        return _completed_headline(op)
    if op.status is OperationStatus.FAILED:
        first = (op.error_message or "unknown error").strip().splitlines() or ["unknown error"]
        text = first[0]
        return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
    if op.status is OperationStatus.CANCELLED:
        return describe_stop(op, None).rstrip(".")
    return op.status.value


def ended_sentence(op: OperationPublic) -> str:
    """``Research cycle op_... completed: verdict promising``."""
    return f"{KIND_LABEL[op.operation_type]} {op.operation_id} {op.status.value}: " + (
        ended_headline(op)
    )


def follow_end_sentence(state: ViewState) -> str:
    """What a follow's end says, however it ended (the backend lost the operation, or the
    follow gave up on an unreachable backend: the user should come back for those too)."""
    parent = state.parent
    if state.lost:
        return f"{state.operation_id} was lost (the backend no longer knows it)"
    if state.gave_up or parent is None:
        return f"Stopped watching {state.operation_id}: the backend stopped answering"
    return ended_sentence(parent)


def batch_sentence(states: Sequence[ViewState]) -> str:
    """``All 3 research cycles ended: 2 completed, 1 failed`` (one: its own sentence)."""
    if len(states) == 1:
        return follow_end_sentence(states[0])
    counts = Counter(_outcome(state) for state in states)
    # One kind named only when every one is known to be of it.
    kinds = {state.parent.operation_type if state.parent else None for state in states}
    kind = kinds.pop() if len(kinds) == 1 else None
    noun = f"{kind_noun(kind)}s" if kind is not None else "operations"
    order = ("completed", "failed", "cancelled", "lost", "gave_up", "running", "pending")
    parts = [f"{counts[name]} {name.replace('_', ' ')}" for name in order if counts[name]]
    # Not a leading digit: ConEmu reads ``OSC 9 ; <number>`` as a command of its own.
    return f"All {len(states)} {noun} ended: " + ", ".join(parts)


def _outcome(state: ViewState) -> str:
    if state.lost:
        return "lost"
    if state.gave_up or state.parent is None:
        return "gave_up"
    return state.parent.status.value


def notification(text: str) -> str:
    """The bytes to write: the bell, then ``text`` as an OSC 9 notification. ``text`` has
    its control characters escaped (a BEL or ESC inside would end the sequence early and
    let backend text drive the terminal)."""
    safe = terminal_safe(" ".join(text.split()))
    if len(safe) > MAX_NOTIFICATION_CHARS:
        safe = safe[: MAX_NOTIFICATION_CHARS - 1] + "…"
    return f"{BELL}\x1b]9;{safe}\x07"


class TerminalNotifier:
    """Sends at most one notification, and only when asked for and ``stream`` is a
    terminal (``stream``: None is standard output at the time of sending)."""

    def __init__(self, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self._stream = stream
        self.sent = False

    def notify(self, text: str) -> bool:
        """Whether a notification went out now."""
        stream = self._stream or sys.stdout
        if not self.enabled or self.sent or not _is_terminal(stream):
            return False
        try:
            stream.write(notification(text))
            stream.flush()
        except OSError:  # the terminal went away: nobody left to tell
            return False
        self.sent = True
        return True


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


def notifier_for(notify: bool, machine_output: bool) -> TerminalNotifier:
    """``--notify``'s notifier; off for JSON and NDJSON output, which are for programs."""
    return TerminalNotifier(enabled=notify and not machine_output)
