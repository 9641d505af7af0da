"""What `--notify` says and where it says it: the sentence for each way work ends, the bell and
OSC 9 bytes with backend text unable to break out of them, and a real pseudo-terminal
against a real pipe for "on a terminal only"."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TextIO

import pytest

from ktrdr.cli.views.notify import (
    MAX_NOTIFICATION_CHARS,
    TerminalNotifier,
    batch_sentence,
    ended_sentence,
    follow_end_sentence,
    notification,
    notifier_for,
)
from ktrdr.client.follow import ViewState
from ktrdr.contract.operations import OperationPublic
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationType


@pytest.fixture
def service() -> Iterator[OperationsService]:
    svc = OperationsService(InMemoryOperationStore())
    yield svc
    svc.close()


def _ended(
    service: OperationsService, kind: OperationType, how: str, result: dict[str, object]
) -> OperationPublic:
    op = service.create(kind)
    service.start(op.operation_id)
    if how == "completed":
        service.complete(op.operation_id, result)
    elif how == "failed":
        service.fail(op.operation_id, "Training failed: the series is too short\nsecond line")
    else:
        service.cancel(op.operation_id)
        service.finish_cancelled(op.operation_id, stopped_at="Training stopped at epoch 3/10")
    return OperationPublic.from_domain(service.get(op.operation_id))


def test_a_completed_cycle_says_its_verdict(service: OperationsService) -> None:
    op = _ended(service, OperationType.AGENT_RESEARCH, "completed", {"verdict": "promising"})
    assert ended_sentence(op) == f"Research cycle {op.operation_id} completed: verdict promising"


def test_each_kind_and_ending_has_its_own_headline(service: OperationsService) -> None:
    training = _ended(service, OperationType.TRAINING, "completed", {"val_accuracy": 0.5512})
    assert ended_sentence(training).endswith("completed: val accuracy 55.1%")
    backtest = _ended(
        service,
        OperationType.BACKTESTING,
        "completed",
        {"metrics": {"sharpe_ratio": 1.234, "total_return": 0.0456}},
    )
    assert ended_sentence(backtest).endswith("completed: Sharpe 1.23, return 4.6%")
    failed = _ended(service, OperationType.TRAINING, "failed", {})
    # One line of the error: a notification is one line.
    assert ended_sentence(failed).endswith("failed: Training failed: the series is too short")
    cancelled = _ended(service, OperationType.AGENT_RESEARCH, "cancelled", {})
    assert ended_sentence(cancelled).endswith("cancelled: Training stopped at epoch 3/10")


def test_a_follow_that_lost_its_operation_still_says_so() -> None:
    lost = ViewState(operation_id="op_x", lost=True, done=True)
    gave_up = ViewState(operation_id="op_y", gave_up=True, done=True)
    assert "op_x was lost" in follow_end_sentence(lost)
    assert "stopped answering" in follow_end_sentence(gave_up)


def test_a_batch_counts_its_endings(service: OperationsService) -> None:
    states = [
        ViewState(operation_id=op.operation_id, parent=op, done=True)
        for op in (
            _ended(service, OperationType.AGENT_RESEARCH, "completed", {"verdict": "poor"}),
            _ended(service, OperationType.AGENT_RESEARCH, "completed", {"verdict": "neutral"}),
            _ended(service, OperationType.AGENT_RESEARCH, "failed", {}),
        )
    ]
    assert batch_sentence(states) == "All 3 research cycles ended: 2 completed, 1 failed"
    mixed = [*states, ViewState(operation_id="op_gone", lost=True, done=True)]
    assert batch_sentence(mixed) == "All 4 operations ended: 2 completed, 1 failed, 1 lost"
    assert batch_sentence(states[:1]) == ended_sentence(states[0].parent)  # type: ignore[arg-type]


def test_the_bytes_are_the_bell_then_one_osc_9_sequence() -> None:
    assert notification("Training op_1 completed: val accuracy 55.1%") == (
        "\x07\x1b]9;Training op_1 completed: val accuracy 55.1%\x07"
    )


def test_backend_text_cannot_end_the_sequence_or_drive_the_terminal() -> None:
    # A strategy name or error message holding BEL / ESC must not close the OSC early and
    # have the rest read as terminal commands.
    sent = notification("verdict \x07\x1b]0;owned\x07 \x1b[2J done")
    body = sent[len("\x07\x1b]9;") : -1]
    assert "\x07" not in body and "\x1b" not in body
    assert sent.count("\x07") == 2 and sent.count("\x1b") == 1
    assert "\\x1b]0;owned" in body  # still readable, as a visible escape


def test_long_text_is_cut_to_one_short_line() -> None:
    sent = notification("line one\nline two " + "x" * 500)
    body = sent[len("\x07\x1b]9;") : -1]
    assert "\n" not in body
    assert len(body) == MAX_NOTIFICATION_CHARS and body.endswith("…")


def _pty_pair() -> tuple[TextIO, int]:
    master, slave = os.openpty()
    return os.fdopen(slave, "w", encoding="utf-8"), master


def test_on_a_terminal_it_notifies_once() -> None:
    stream, master = _pty_pair()
    try:
        notifier = TerminalNotifier(enabled=True, stream=stream)
        assert notifier.notify("Training op_1 completed: val accuracy 55.1%")
        assert not notifier.notify("a second end")  # once per command
        received = os.read(master, 4096).decode()
    finally:
        stream.close()
        os.close(master)
    assert received == "\x07\x1b]9;Training op_1 completed: val accuracy 55.1%\x07"


def test_into_a_pipe_or_without_the_flag_nothing_is_written() -> None:
    read_end, write_end = os.pipe()
    pipe = os.fdopen(write_end, "w", encoding="utf-8")
    try:
        assert not TerminalNotifier(enabled=True, stream=pipe).notify("ended")
        pipe.close()
        assert os.read(read_end, 4096) == b""
    finally:
        os.close(read_end)
    stream, master = _pty_pair()
    try:
        assert not TerminalNotifier(enabled=False, stream=stream).notify("ended")
    finally:
        stream.close()
        os.close(master)


def test_machine_output_turns_it_off() -> None:
    assert not notifier_for(True, machine_output=True).enabled
    assert notifier_for(True, machine_output=False).enabled
    assert not notifier_for(False, machine_output=False).enabled
