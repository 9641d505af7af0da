"""`ktrdr ops wait ID...` over real HTTP: an in-process server whose service the test drives,
so each operation ends exactly as the test says while the wait follows it through the tree
long-poll. Exit codes with and without --exit-status, a line per operation in the order they
end, --json, Ctrl+C (stops waiting, cancels nothing), and the command's refusals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from ktrdr.cli.ops_wait import Ended, WaitSession, run_wait, wait_exit_code
from ktrdr.cli.output import EXIT_CANCELLED_ELSEWHERE, EXIT_DETACHED, EXIT_FAILED, EXIT_OK
from ktrdr.client.follow import ViewState
from ktrdr.config import Settings
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import OperationStatus, OperationType
from tests.support.live_backend import env_without_ktrdr, run_ktrdr
from tests.support.served import Served, served_in_process

Ending = Callable[[OperationsService, str], object]


def _complete(service: OperationsService, op_id: str) -> object:
    return service.complete(op_id, {"verdict": "promising", "strategy_name": "s"})


def _fail(service: OperationsService, op_id: str) -> object:
    return service.fail(op_id, "Backtest failed: no model found")


def _cancel_elsewhere(service: OperationsService, op_id: str) -> object:
    service.cancel(op_id, "Cancelled by user")  # what `ktrdr ops cancel` asks for
    return service.finish_cancelled(op_id, stopped_at="Stopped while designing the strategy")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_in_process(tmp_path / "data") as server:
        yield server


def _running(service: OperationsService, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        op = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "idle"})
        service.start(op.operation_id)
        ids.append(op.operation_id)
    return ids


def _end_later(
    service: OperationsService, plan: Sequence[tuple[str, Ending]], delay: float = 0.5
) -> threading.Thread:
    """End each operation of ``plan`` in its order, once the wait is following them."""

    def run() -> None:
        time.sleep(delay)
        for op_id, ending in plan:
            ending(service, op_id)
            time.sleep(0.15)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait(
    served: Served,
    endings: Sequence[Ending],
    *,
    exit_status: bool,
    json_out: bool = False,
) -> tuple[int, list[str], list[str]]:
    """Wait for operations ended by ``endings``, the last one first; returns the exit
    code, the printed lines and the ids in the order they were ended."""
    ids = _running(served.service, len(endings))
    plan = list(reversed(list(zip(ids, endings, strict=True))))
    ender = _end_later(served.service, plan)
    settings = Settings(api_url=served.base_url, autostart=False)
    code = run_wait(
        served.base_url, ids, settings, json_out=json_out, exit_status=exit_status, notify=True
    )
    ender.join()
    return code, [op_id for op_id, _ in plan], ids


def test_all_completed_exits_0_with_a_line_each_in_the_order_they_ended(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    code, end_order, _ = _wait(served, [_complete, _complete, _complete], exit_status=True)
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == end_order
    for line in lines:
        assert "research cycle  completed  verdict promising" in line
    # --notify into a captured stream (no terminal): not a single escape byte.
    assert "\x07" not in out and "\x1b" not in out


def test_one_failed_exits_1(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, ids = _wait(served, [_complete, _fail], exit_status=True)
    out = capsys.readouterr().out
    assert code == EXIT_FAILED, out
    assert f"{ids[1]}  research cycle  failed  Backtest failed: no model found" in out


def test_one_cancelled_exits_3(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, ids = _wait(served, [_cancel_elsewhere, _complete], exit_status=True)
    out = capsys.readouterr().out
    assert code == EXIT_CANCELLED_ELSEWHERE, out
    assert f"{ids[0]}  research cycle  cancelled  Stopped while designing the strategy" in out


def test_a_failure_outranks_a_cancel(served: Served) -> None:
    code, _, _ = _wait(served, [_cancel_elsewhere, _fail, _complete], exit_status=True)
    assert code == EXIT_FAILED


def test_without_exit_status_it_exits_0_once_all_ended(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = _wait(served, [_cancel_elsewhere, _fail], exit_status=False)
    assert code == EXIT_OK
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_json_is_one_object_per_ended_operation(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    code, end_order, _ = _wait(served, [_complete, _fail], exit_status=True, json_out=True)
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == EXIT_FAILED
    assert [row["operation_id"] for row in rows] == end_order
    by_status = {row["status"]: row for row in rows}
    assert by_status["completed"]["result_summary"]["verdict"] == "promising"
    assert by_status["completed"]["headline"] == "verdict promising"
    assert by_status["failed"]["error_message"] == "Backtest failed: no model found"
    assert {row["operation_type"] for row in rows} == {"agent_research"}


def test_an_operation_already_ended_is_reported_at_once(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    (op_id,) = _running(served.service, 1)
    _fail(served.service, op_id)
    settings = Settings(api_url=served.base_url, autostart=False)
    started = time.monotonic()
    code = run_wait(
        served.base_url, [op_id, op_id], settings, json_out=False, exit_status=True, notify=False
    )
    assert code == EXIT_FAILED
    assert time.monotonic() - started < 3.0
    assert capsys.readouterr().out.count(op_id) == 1  # an id given twice is waited for once


def test_ctrl_c_stops_waiting_and_cancels_nothing(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _running(served.service, 2)
    _complete(served.service, ids[0])
    settings = Settings(api_url=served.base_url, autostart=False)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    code = run_wait(served.base_url, ids, settings, json_out=False, exit_status=True, notify=False)
    timer.join()
    captured = capsys.readouterr()
    assert code == EXIT_DETACHED
    assert captured.err.strip() == (
        f"Stopped waiting; it keeps running. Cancel it with: ktrdr ops cancel {ids[1]}"
    )
    still = served.service.get(ids[1])
    assert still.status is OperationStatus.RUNNING and not still.cancel_requested
    assert f"{ids[0]}  research cycle  completed" in captured.out


class CountingTransport(httpx.AsyncHTTPTransport):
    """The real transport, counting the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return await super().handle_async_request(request)


def test_waiting_is_a_long_poll_not_a_busy_poll(served: Served) -> None:
    (op_id,) = _running(served.service, 1)
    transport = CountingTransport()
    reported: list[Ended] = []
    session = WaitSession(served.base_url, [op_id], reported.append, transport=transport)
    ender = _end_later(served.service, [(op_id, _complete)], delay=4.0)
    asyncio.run(asyncio.wait_for(session.run(), timeout=30))
    ender.join()
    assert [item.outcome for item in reported] == ["completed"]
    # 4 s of nothing: the first answer at once, then held waits of 2 s and 4 s (the end
    # cuts the second short). A 0.3 s poll would have sent over a dozen.
    assert transport.sent <= 4, transport.sent


def test_lost_or_unreachable_is_a_failure_whatever_the_flag() -> None:
    lost = Ended(ViewState(operation_id="op_a", lost=True, done=True))
    gave_up = Ended(ViewState(operation_id="op_b", gave_up=True, done=True))
    for ended in (lost, gave_up):
        assert wait_exit_code([ended], exit_status=False) == EXIT_FAILED
        assert wait_exit_code([ended], exit_status=True) == EXIT_FAILED
    assert lost.outcome == "lost" and gave_up.outcome == "gave_up"


def test_the_command_refuses_a_malformed_id_and_an_unknown_one(served: Served) -> None:
    env = env_without_ktrdr(KTRDR_API_URL=served.base_url, KTRDR_AUTOSTART="0")
    (op_id,) = _running(served.service, 1)
    malformed = run_ktrdr(env, "ops", "wait", op_id, "op_x/../y")
    assert malformed.returncode == 2, malformed.stderr
    assert "not an operation id" in malformed.stderr
    unknown = run_ktrdr(env, "ops", "wait", op_id, "op_nothing_here", "--exit-status")
    assert unknown.returncode == 1, unknown.stderr
    assert unknown.stderr.startswith("Error: ") and "op_nothing_here" in unknown.stderr
    assert "Traceback" not in unknown.stderr and unknown.stdout == ""
    assert served.service.get(op_id).status is OperationStatus.RUNNING
