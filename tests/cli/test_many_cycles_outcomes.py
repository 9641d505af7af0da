"""The exit code of `agent trigger --count N -f` when its cycles end differently.

The board session follows real cycles over real HTTP (an in-process server whose service
the test drives, so each cycle ends exactly as the test says). The README promises exit 0
only when every cycle completed: one failed, or one cancelled from elsewhere, must give a
non-zero exit even though another completed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from io import StringIO
from pathlib import Path

from rich.console import Console

from ktrdr.cli.many_cycles import CyclesSession, StartedCycle
from ktrdr.cli.output import EXIT_FAILED, EXIT_OK
from ktrdr.cli.views.board import PlainBoard
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import OperationType
from tests.support.served import served_in_process

Ending = Callable[[OperationsService, str], object]


def _complete(service: OperationsService, op_id: str) -> object:
    return service.complete(op_id, {"verdict": "neutral", "strategy_name": "s"})


def _fail(service: OperationsService, op_id: str) -> object:
    return service.fail(op_id, "Training failed: the series is too short")


def _cancel_elsewhere(service: OperationsService, op_id: str) -> object:
    service.cancel(op_id, "Cancelled by user")  # what `ktrdr ops cancel` asks for
    return service.finish_cancelled(op_id, stopped_at="Stopped while designing the strategy")


def _run_board(tmp_path: Path, endings: Sequence[Ending]) -> tuple[int, str]:
    with served_in_process(tmp_path / "data") as server:
        service = server.service
        cycles = []
        for seed in range(len(endings)):
            op = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "idle"})
            service.start(op.operation_id)
            cycles.append(StartedCycle(op.operation_id, seed))
        out = StringIO()
        board = PlainBoard(Console(file=out, width=120), [c.seed for c in cycles], time.monotonic)
        session = CyclesSession(server.base_url, cycles, board, token=None, give_up_after=20.0)

        def end_them() -> None:
            time.sleep(0.5)  # the board is following by now
            for cycle, ending in zip(cycles, endings, strict=True):
                ending(service, cycle.operation_id)
                time.sleep(0.1)

        ender = threading.Thread(target=end_them)
        ender.start()
        code = asyncio.run(asyncio.wait_for(session.run(), timeout=30))
        ender.join()
        return code, out.getvalue()


def test_all_completed_exits_0(tmp_path: Path) -> None:
    code, shown = _run_board(tmp_path, [_complete, _complete])
    assert code == EXIT_OK, shown
    assert "2 of 2 research cycles completed" in shown


def test_one_completed_and_one_failed_exits_non_zero(tmp_path: Path) -> None:
    code, shown = _run_board(tmp_path, [_complete, _fail])
    assert code == EXIT_FAILED, shown
    assert "1 of 2 research cycles completed" in shown


def test_one_cancelled_from_elsewhere_exits_non_zero(tmp_path: Path) -> None:
    code, shown = _run_board(tmp_path, [_cancel_elsewhere, _complete])
    assert code == EXIT_FAILED, shown
    assert "1 of 2 research cycles completed" in shown
