"""The monitor: follow an operation live until it ends; Ctrl+C cancels it or detaches.

Used by `agent trigger --monitor`, `agent status --follow`, `ops follow`, `model train`
and `backtest run`: one follower (the tree long-poll), one Renderer (live, plain, JSON or
NDJSON), one set of exit codes. What Ctrl+C does is the command's choice (``--on-interrupt``):
the commands that started the work cancel it, those that re-attached to it detach, since
someone who only looked in must not lose hours of work.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from ktrdr.cli.options import InterruptAction
from ktrdr.cli.output import (
    EXIT_CANCELLED,
    EXIT_CANCELLED_ELSEWHERE,
    EXIT_DETACHED,
    EXIT_FAILED,
    EXIT_OK,
)
from ktrdr.cli.views import Output, Renderer, renderer_for
from ktrdr.cli.views.notify import TerminalNotifier, follow_end_sentence, notifier_for
from ktrdr.cli.views.outcomes import outcome_lines
from ktrdr.client.errors import ClientError
from ktrdr.client.follow import Follower, ViewState
from ktrdr.client.http import AsyncKtrdrClient, AsyncTransport, ClientTimeout
from ktrdr.config import Settings, load_settings
from ktrdr.contract.operations import OperationPublic
from ktrdr.records.models import OperationStatus

# After Ctrl+C, how long to wait for the operation to reach a terminal state.
CANCEL_WAIT_SECONDS = 5.0
# After a second Ctrl+C, how long the pending DELETE may still take before we exit.
HARD_EXIT_CANCEL_WAIT_SECONDS = 1.0
# Short timeouts so a hung backend shows as "connection lost" quickly.
MONITOR_TIMEOUT = ClientTimeout(3.0, connect=1.0)
DEFAULT_GIVE_UP_SECONDS: float = Settings.model_fields["monitor_give_up_seconds"].default
DEFAULT_STALL_SECONDS: float = Settings.model_fields["stall_seconds"].default


def detached_message(operation_id: str) -> str:
    return f"Stopped watching; it keeps running. Cancel it with: ktrdr ops cancel {operation_id}"


def route_sigint(loop: asyncio.AbstractEventLoop, handler: Callable[[], None] | None) -> None:
    """Ctrl+C calls ``handler`` inside the loop (None: back to the default). Outside the
    main thread (e.g. tests) there are no signal handlers, and nothing happens."""
    try:
        if handler is None:
            loop.remove_signal_handler(signal.SIGINT)
        else:
            loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError):
        pass


class Shown(Protocol):
    """A view drawn while a follow runs (a renderer, the many-cycles board)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@contextmanager
def sigint_routed(
    loop: asyncio.AbstractEventLoop,
    handler: Callable[[], None],
    chosen: Callable[[], bool],
    view: Shown | None = None,
) -> Iterator[None]:
    """Ctrl+C calls ``handler`` inside the loop while the block runs, with ``view`` shown.
    A cancellation the user chose (``chosen()``: a hard exit, a detach, a wait stopped) ends
    the block quietly, any other is raised; either way Ctrl+C gets its default back and the
    view comes down before the caller's own clean-up."""
    route_sigint(loop, handler)
    if view is not None:
        view.start()
    try:
        yield
    except asyncio.CancelledError:
        if not chosen():
            raise
    finally:
        route_sigint(loop, None)
        if view is not None:
            view.stop()


class MonitorSession:
    """One follow of one operation: long-polls through the follower, draws through ``renderer``.

    With ``on_interrupt`` CANCEL the first Ctrl+C sends a cancel request and a second one
    exits at once; with DETACH the first Ctrl+C stops the follow and nothing is sent."""

    def __init__(
        self,
        base_url: str,
        operation_id: str,
        renderer: Renderer,
        *,
        give_up_after: float = DEFAULT_GIVE_UP_SECONDS,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        transport: AsyncTransport | None = None,
        token: str | None = None,
        on_interrupt: InterruptAction = InterruptAction.CANCEL,
        notifier: TerminalNotifier | None = None,
    ) -> None:
        self.base_url = base_url
        self.token = token  # a shared backend's KTRDR_API_TOKEN
        self.transport = transport  # tests: an in-process backend stand-in
        self.operation_id = operation_id
        self.renderer = renderer
        self.give_up_after = give_up_after
        self.stall_seconds = stall_seconds
        self.on_interrupt = on_interrupt
        self.notifier = notifier or TerminalNotifier(enabled=False)
        self.interrupts = 0
        self.cancel_sent_at: float | None = None
        self.state = ViewState(operation_id=operation_id)
        self.hard_exit = False
        self.detached = False
        self.cancel_delivered = False
        self._cancel_tasks: list[asyncio.Task[None]] = []

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        client = AsyncKtrdrClient(
            self.base_url, timeout=MONITOR_TIMEOUT, transport=self.transport, token=self.token
        )
        follower = Follower(
            client.get_tree, give_up_after=self.give_up_after, stall_seconds=self.stall_seconds
        )
        routed = sigint_routed(
            loop,
            lambda: self._on_sigint(loop, main, client),
            chosen=lambda: self.hard_exit or self.detached,
            view=self.renderer,
        )
        try:
            with routed:
                async for state, events in follower.follow(self.operation_id):
                    self.state = state
                    self.renderer.update(state, events)
                    if (
                        self.cancel_sent_at is not None
                        and time.monotonic() - self.cancel_sent_at > CANCEL_WAIT_SECONDS
                    ):
                        break
        finally:
            if self._cancel_tasks and self.hard_exit:
                # Exit at once, but not before the DELETE is out: the cancel must stay
                # requested. On loopback that takes milliseconds; a dead backend gets 1 s.
                await asyncio.wait(self._cancel_tasks, timeout=HARD_EXIT_CANCEL_WAIT_SECONDS)
            for task in self._cancel_tasks:
                task.cancel()
            await client.aclose()
        return self._finish()

    def _on_sigint(
        self,
        loop: asyncio.AbstractEventLoop,
        main: asyncio.Task[object] | None,
        client: AsyncKtrdrClient,
    ) -> None:
        self.interrupts += 1
        if self.on_interrupt is InterruptAction.DETACH:
            # Stop following; the operation is left exactly as it is.
            if not self.detached and main is not None:
                self.detached = True
                main.cancel()
        elif self.interrupts == 1:
            self.cancel_sent_at = time.monotonic()
            self.renderer.show_cancelling()
            self._cancel_tasks.append(loop.create_task(self._send_cancel(client)))
        elif not self.hard_exit:
            self.hard_exit = True
            if main is not None:
                main.cancel()

    async def _send_cancel(self, client: AsyncKtrdrClient) -> None:
        try:
            await client.cancel_operation(self.operation_id)
            self.cancel_delivered = True
        except ClientError as exc:
            if exc.code == "operation_already_finished":
                self.cancel_delivered = True
            else:
                self.renderer.note(f"Could not send the cancel request: {exc.message}")

    def _finish(self) -> int:
        if self.hard_exit:
            return self._hard_exit_note()
        if self.detached and not self.state.done:
            self.renderer.note(detached_message(self.operation_id))
            return EXIT_DETACHED
        # Detaching asks for nothing: only a cancel request makes this an interrupted end.
        interrupted = self.interrupts > 0 and self.on_interrupt is InterruptAction.CANCEL
        self.renderer.finish(
            outcome_lines(
                self.state,
                interrupted=interrupted,
                base_url=self.base_url,
                give_up_after=self.give_up_after,
            )
        )
        if self.state.done and not interrupted:
            # Whoever pressed Ctrl+C is at the terminal: no need to call them back.
            self.notifier.notify(follow_end_sentence(self.state))
        return exit_code(self.state, interrupted)

    def _hard_exit_note(self) -> int:
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
        self.renderer.note(message)
        return EXIT_CANCELLED


def exit_code(state: ViewState, interrupted: bool) -> int:
    """0 completed; 130 stopped with Ctrl+C here; 3 cancelled from elsewhere (another
    terminal, ``ktrdr ops cancel``, the API); 1 failed, lost or given up."""
    parent: OperationPublic | None = state.parent
    if state.lost or state.gave_up or parent is None:
        return EXIT_FAILED
    if parent.status is OperationStatus.COMPLETED:
        return EXIT_OK
    if interrupted:
        return EXIT_CANCELLED
    if parent.status is OperationStatus.CANCELLED:
        return EXIT_CANCELLED_ELSEWHERE
    return EXIT_FAILED


def run_monitor(
    base_url: str,
    operation_id: str,
    *,
    output: Output = "auto",
    settings: Settings | None = None,
    on_interrupt: InterruptAction = InterruptAction.CANCEL,
    notify: bool = False,
) -> int:
    """Follow ``operation_id`` until it ends; returns the exit code (0, 1, 3, 4 or 130)."""
    settings = settings or load_settings()
    renderer = renderer_for(output, no_color=settings.no_color)
    session = MonitorSession(
        base_url,
        operation_id,
        renderer,
        give_up_after=settings.monitor_give_up_seconds,
        stall_seconds=settings.stall_seconds,
        token=settings.token,
        on_interrupt=on_interrupt,
        notifier=notifier_for(notify, machine_output=output in ("json", "ndjson")),
    )
    try:
        return asyncio.run(session.run())
    except KeyboardInterrupt:  # a Ctrl+C that landed outside the event loop
        if on_interrupt is InterruptAction.DETACH:
            renderer.note(detached_message(operation_id))
            return EXIT_DETACHED
        return EXIT_CANCELLED
