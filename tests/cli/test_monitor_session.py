"""The monitor session's Ctrl+C handling, one layer down: real SIGINTs to this process, the
backend replaced by an in-process httpx transport that serves a cycle which never stops on
its own, so the second Ctrl+C is the only way out."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time

import httpx
from rich.console import Console

from ktrdr.cli.monitor import HARD_EXIT_CANCEL_WAIT_SECONDS, MonitorSession
from ktrdr.cli.output import EXIT_CANCELLED
from ktrdr.cli.views import PlainRenderer
from ktrdr.contract.operations import Envelope, OperationPublic, TreePublic
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationType
from tests.support.progress import progress


class StubbornBackend:
    """A running cycle that accepts a DELETE (or hangs on it) but never ends."""

    def __init__(self, *, delete_hangs: bool) -> None:
        service = OperationsService(InMemoryOperationStore())
        op = service.create(OperationType.AGENT_RESEARCH)
        service.start(op.operation_id)
        progress(service, op.operation_id, 20.0, "Training model...")
        self.operation = OperationPublic.from_domain(service.get(op.operation_id))
        service.close()
        self.delete_hangs = delete_hangs
        self.deletes = 0
        self.delete_answered = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = Envelope[OperationPublic](data=self.operation).model_dump(mode="json")
        if request.url.path.endswith("/tree"):
            op = self.operation
            tree = TreePublic(version=op.version, complete=True, changes=[], operations=[op])
            since = int(request.url.params.get("since", "0"))
            if since == op.version:  # nothing new: hold for the wait, then 304
                await asyncio.sleep(float(request.url.params.get("wait", "0")))
                return httpx.Response(304)
            body = Envelope[TreePublic](data=tree).model_dump(mode="json")
        if request.method == "DELETE":
            self.deletes += 1
            if self.delete_hangs:
                await asyncio.sleep(30)
            self.delete_answered = True
        return httpx.Response(200, json=body)


def run_with_two_interrupts(backend: StubbornBackend) -> tuple[int, str, float]:
    """Ctrl+C twice (0.4 s apart) while following; returns exit code, output and the
    seconds from the second Ctrl+C to the session returning."""
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=False, color_system=None)
    session = MonitorSession(
        "http://ktrdr.test",
        backend.operation.operation_id,
        PlainRenderer(console),
        transport=httpx.MockTransport(backend),
    )
    second_at: list[float] = []

    def interrupt(record: bool) -> None:
        if record:
            second_at.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, interrupt, False)
        loop.call_later(0.9, interrupt, True)
        return await session.run()

    code = asyncio.run(main())
    assert second_at, "the second Ctrl+C was never sent"
    return code, out.getvalue(), time.monotonic() - second_at[0]


def test_a_second_ctrl_c_exits_at_once_leaving_the_cancel_requested() -> None:
    backend = StubbornBackend(delete_hangs=False)
    code, output, took = run_with_two_interrupts(backend)
    assert code == EXIT_CANCELLED
    assert backend.deletes == 1 and backend.delete_answered
    assert "Cancelling research cycle" in output
    assert "the cancel request stays in place" in output
    assert f"ktrdr ops show {backend.operation.operation_id}" in output
    assert took < 0.5, took  # no waiting for the cycle to end


def test_a_second_ctrl_c_with_the_cancel_still_in_flight_says_it_is_unconfirmed() -> None:
    backend = StubbornBackend(delete_hangs=True)
    code, output, took = run_with_two_interrupts(backend)
    assert code == EXIT_CANCELLED
    assert backend.deletes == 1 and not backend.delete_answered
    assert "has not confirmed the cancel request" in output
    assert f"ktrdr ops cancel {backend.operation.operation_id}" in output
    # It waited for the DELETE only for the bounded grace, not for the 30 s the backend hangs.
    assert HARD_EXIT_CANCEL_WAIT_SECONDS - 0.1 < took < HARD_EXIT_CANCEL_WAIT_SECONDS + 0.6, took
