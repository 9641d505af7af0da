"""Watching without cancelling, one layer under the terminal: the monitor session and the
--count board follow real operations over real HTTP (an in-process server whose service the
test drives), a real SIGINT arrives, and the backend is asked afterwards what it was sent.
Also --notify's one notification at the end, into a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest
from rich.console import Console

from ktrdr.cli.many_cycles import CyclesSession, StartedCycle
from ktrdr.cli.monitor import MonitorSession
from ktrdr.cli.options import InterruptAction
from ktrdr.cli.output import EXIT_CANCELLED, EXIT_DETACHED, EXIT_OK
from ktrdr.cli.views import PlainRenderer
from ktrdr.cli.views.board import PlainBoard
from ktrdr.cli.views.notify import TerminalNotifier
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import OperationStatus, OperationType
from tests.support.served import Served, served_in_process


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_in_process(tmp_path / "data") as server:
        yield server


@pytest.fixture
def terminal() -> Iterator[tuple[TextIO, int]]:
    """A pseudo-terminal: the stream a notifier writes to, and the end that reads it."""
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w", encoding="utf-8")
    yield stream, master
    stream.close()
    os.close(master)


def _read_all(master: int) -> str:
    os.set_blocking(master, False)
    try:
        return os.read(master, 65536).decode()
    except BlockingIOError:
        return ""


def _running_cycle(service: OperationsService) -> str:
    op = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "idle"})
    service.start(op.operation_id)
    return op.operation_id


def _session(
    served: Served, op_id: str, action: InterruptAction, notifier: TerminalNotifier | None = None
) -> tuple[MonitorSession, io.StringIO]:
    out = io.StringIO()
    renderer = PlainRenderer(Console(file=out, width=200, color_system=None))
    session = MonitorSession(
        served.base_url, op_id, renderer, on_interrupt=action, notifier=notifier
    )
    return session, out


def _interrupt_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_detach_leaves_the_operation_running_and_says_how_to_cancel(served: Served) -> None:
    op_id = _running_cycle(served.service)
    session, out = _session(served, op_id, InterruptAction.DETACH)
    timer = _interrupt_after(1.0)
    code = asyncio.run(asyncio.wait_for(session.run(), timeout=20))
    timer.join()
    assert code == EXIT_DETACHED, out.getvalue()
    assert out.getvalue().splitlines()[-1] == (
        f"Stopped watching; it keeps running. Cancel it with: ktrdr ops cancel {op_id}"
    )
    op = served.service.get(op_id)
    assert op.status is OperationStatus.RUNNING and not op.cancel_requested
    # It goes on to its own end afterwards.
    served.service.complete(op_id, {"verdict": "neutral"})
    assert served.service.get(op_id).status is OperationStatus.COMPLETED


def test_cancel_is_still_the_default_of_a_session(served: Served) -> None:
    op_id = _running_cycle(served.service)
    out = io.StringIO()
    renderer = PlainRenderer(Console(file=out, width=200, color_system=None))
    session = MonitorSession(served.base_url, op_id, renderer)

    def stop_when_asked() -> None:
        deadline = time.monotonic() + 10
        while not served.service.get(op_id).cancel_requested:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        served.service.finish_cancelled(op_id, stopped_at="Stopped while designing")

    timer = _interrupt_after(1.0)
    stopper = threading.Thread(target=stop_when_asked)
    stopper.start()
    code = asyncio.run(asyncio.wait_for(session.run(), timeout=20))
    timer.join()
    stopper.join()
    assert code == EXIT_CANCELLED, out.getvalue()
    assert served.service.get(op_id).status is OperationStatus.CANCELLED
    assert "Stopped watching" not in out.getvalue()


def test_notify_rings_the_terminal_once_when_the_work_ends(
    served: Served, terminal: tuple[TextIO, int]
) -> None:
    stream, master = terminal
    op_id = _running_cycle(served.service)
    notifier = TerminalNotifier(enabled=True, stream=stream)
    session, out = _session(served, op_id, InterruptAction.DETACH, notifier)
    timer = threading.Timer(
        0.8, lambda: served.service.complete(op_id, {"verdict": "promising", "trades": 3})
    )
    timer.start()
    code = asyncio.run(asyncio.wait_for(session.run(), timeout=20))
    timer.join()
    assert code == EXIT_OK
    assert _read_all(master) == (
        f"\x07\x1b]9;Research cycle {op_id} completed: verdict promising\x07"
    )
    assert "\x07" not in out.getvalue()  # the view itself never rings


def test_no_notification_after_a_ctrl_c_here(served: Served, terminal: tuple[TextIO, int]) -> None:
    stream, master = terminal
    op_id = _running_cycle(served.service)
    session, _ = _session(
        served, op_id, InterruptAction.DETACH, TerminalNotifier(enabled=True, stream=stream)
    )
    timer = _interrupt_after(0.8)
    assert asyncio.run(asyncio.wait_for(session.run(), timeout=20)) == EXIT_DETACHED
    timer.join()
    assert _read_all(master) == ""  # whoever pressed Ctrl+C is at the terminal


def _board(
    served: Served, count: int, action: InterruptAction, stream: TextIO | None
) -> tuple[list[StartedCycle], CyclesSession, io.StringIO]:
    """``count`` running cycles on a plain board; ``stream``: where --notify rings."""
    cycles = [StartedCycle(_running_cycle(served.service), seed) for seed in range(count)]
    out = io.StringIO()
    board = PlainBoard(Console(file=out, width=200), [c.seed for c in cycles], time.monotonic)
    notifier = TerminalNotifier(enabled=stream is not None, stream=stream)
    session = CyclesSession(
        served.base_url,
        cycles,
        board,
        token=None,
        give_up_after=20.0,
        on_interrupt=action,
        notifier=notifier,
    )
    return cycles, session, out


def test_the_board_can_detach_too(served: Served) -> None:
    cycles, session, out = _board(served, 2, InterruptAction.DETACH, None)
    timer = _interrupt_after(1.0)
    code = asyncio.run(asyncio.wait_for(session.run(), timeout=20))
    timer.join()
    assert code == EXIT_DETACHED, out.getvalue()
    assert "Stopped watching; 2 research cycles keep running" in out.getvalue()
    for cycle in cycles:
        op = served.service.get(cycle.operation_id)
        assert op.status is OperationStatus.RUNNING and not op.cancel_requested


def test_the_board_notifies_once_for_the_whole_batch(
    served: Served, terminal: tuple[TextIO, int]
) -> None:
    stream, master = terminal
    cycles, session, _ = _board(served, 2, InterruptAction.CANCEL, stream)

    def end_them() -> None:
        time.sleep(0.6)
        served.service.complete(cycles[0].operation_id, {"verdict": "poor"})
        time.sleep(0.2)
        served.service.fail(cycles[1].operation_id, "Training failed")

    ender = threading.Thread(target=end_them)
    ender.start()
    asyncio.run(asyncio.wait_for(session.run(), timeout=20))
    ender.join()
    assert _read_all(master) == "\x07\x1b]9;All 2 research cycles ended: 1 completed, 1 failed\x07"
