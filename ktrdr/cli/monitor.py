"""The monitor: follow an operation live until it ends, with Ctrl+C cancelling it.

Used by `agent trigger --monitor`, `agent status --follow`, `ops follow`, `model train`
and `backtest run`: one follower, one pair of renderers, one set of exit codes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Literal

import httpx
from rich.console import Console

from ktrdr.api.schemas import OperationPublic
from ktrdr.cli.output import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, print_json
from ktrdr.cli.render import LiveRenderer, PlainRenderer, outcome_lines
from ktrdr.client.errors import ClientError
from ktrdr.client.follow import Follower, ViewState
from ktrdr.client.http import AsyncKtrdrClient

Output = Literal["auto", "live", "plain", "json"]
Kind = Literal["research", "training", "backtest", "auto"]

# After Ctrl+C, how long to wait for the operation to reach a terminal state.
CANCEL_WAIT_SECONDS = 5.0
# After a second Ctrl+C, how long the pending DELETE may still take before we exit.
HARD_EXIT_CANCEL_WAIT_SECONDS = 1.0
# Short timeouts so a hung backend shows as "connection lost" quickly.
MONITOR_TIMEOUT = httpx.Timeout(3.0, connect=1.0)


def _pick_output(output: Output, console: Console) -> Literal["live", "plain", "json"]:
    if output != "auto":
        return output
    if console.is_terminal and not os.environ.get("NO_COLOR"):
        return "live"
    return "plain"


def give_up_seconds() -> float:
    try:
        return float(os.environ.get("KTRDR_MONITOR_GIVE_UP_SECONDS", "180"))
    except ValueError:
        return 180.0


class _Session:
    def __init__(
        self,
        base_url: str,
        operation_id: str,
        mode: Literal["live", "plain", "json"],
        console: Console,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.transport = transport  # tests: an in-process backend stand-in
        self.operation_id = operation_id
        self.mode = mode
        self.console = console
        self.renderer: LiveRenderer | PlainRenderer | None = None
        if mode == "live":
            self.renderer = LiveRenderer(console, time.monotonic)
        elif mode == "plain":
            self.renderer = PlainRenderer(console)
        self.interrupts = 0
        self.cancel_sent_at: float | None = None
        self.state = ViewState(operation_id=operation_id)
        self.hard_exit = False
        self.cancel_delivered = False

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        client = AsyncKtrdrClient(self.base_url, timeout=MONITOR_TIMEOUT, transport=self.transport)
        follower = Follower(client.get_operation, give_up_after=give_up_seconds())
        cancel_tasks: list[asyncio.Task[None]] = []

        def on_sigint() -> None:
            self.interrupts += 1
            if self.interrupts == 1:
                self.cancel_sent_at = time.monotonic()
                if self.renderer is not None:
                    self.renderer.show_cancelling()
                cancel_tasks.append(loop.create_task(self._send_cancel(client)))
            elif not self.hard_exit:
                self.hard_exit = True
                if main is not None:
                    main.cancel()

        try:
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        except (NotImplementedError, RuntimeError):  # not the main thread (e.g. tests)
            pass
        if self.renderer is not None:
            self.renderer.start()
        try:
            async for state, events in follower.follow(self.operation_id):
                self.state = state
                if self.renderer is not None:
                    self.renderer.update(state, events)
                if (
                    self.cancel_sent_at is not None
                    and time.monotonic() - self.cancel_sent_at > CANCEL_WAIT_SECONDS
                ):
                    break
        except asyncio.CancelledError:
            if not self.hard_exit:
                raise
        finally:
            try:
                loop.remove_signal_handler(signal.SIGINT)
            except (NotImplementedError, RuntimeError):
                pass
            if self.renderer is not None:
                self.renderer.stop()
            if cancel_tasks and self.hard_exit:
                # Exit at once, but not before the DELETE is out: the cancel must stay
                # requested. On loopback that takes milliseconds; a dead backend gets 1 s.
                await asyncio.wait(cancel_tasks, timeout=HARD_EXIT_CANCEL_WAIT_SECONDS)
            for task in cancel_tasks:
                task.cancel()
            await client.aclose()
        return self._finish()

    async def _send_cancel(self, client: AsyncKtrdrClient) -> None:
        try:
            await client.cancel_operation(self.operation_id)
            self.cancel_delivered = True
        except ClientError as exc:
            if exc.code == "operation_already_finished":
                self.cancel_delivered = True
            elif self.renderer is not None:
                self.renderer.note(f"Could not send the cancel request: {exc.message}")

    def _finish(self) -> int:
        state = self.state
        parent = state.parent
        interrupted = self.interrupts > 0
        if self.hard_exit:
            if self.cancel_delivered:
                message = (
                    "Exiting now; the cancel request stays in place. "
                    f"Check with: ktrdr ops show {self.operation_id}"
                )
            else:
                message = (
                    "Exiting now; the backend has not confirmed the cancel request. "
                    f"To be sure: ktrdr ops cancel {self.operation_id}"
                )
            self.console.print(message, soft_wrap=True)
            return EXIT_CANCELLED
        lines = outcome_lines(state, interrupted=interrupted, base_url=self.base_url)
        if self.mode == "json":
            if parent is not None and (state.done or interrupted):
                print_json(parent.model_dump(mode="json"))
            else:
                sys.stderr.write(lines[0][0] + "\n")
        elif self.renderer is not None:
            self.renderer.finish(lines)
        return _exit_code(state, parent, interrupted)


def _exit_code(state: ViewState, parent: OperationPublic | None, interrupted: bool) -> int:
    if state.lost or state.gave_up or parent is None:
        return EXIT_FAILED
    status = parent.status.value
    if interrupted and status != "completed":
        return EXIT_CANCELLED
    if status == "completed":
        return EXIT_OK
    return EXIT_FAILED


def run_monitor(
    base_url: str,
    operation_id: str,
    *,
    kind: Kind = "auto",
    output: Output = "auto",
    console: Console | None = None,
) -> int:
    """Follow ``operation_id`` until it ends; returns the exit code (0, 1 or 130)."""
    del kind  # the operation's own type decides titles and summaries
    console = console or Console(file=sys.stdout, highlight=False)
    mode = _pick_output(output, console)
    session = _Session(base_url, operation_id, mode, console)
    try:
        return asyncio.run(session.run())
    except KeyboardInterrupt:  # a Ctrl+C that landed outside the event loop
        return EXIT_CANCELLED
