"""`ktrdr agent trigger --count N`: start N research cycles (seeds S...S+N-1) and, with -f,
follow them all in one board until every one has ended.

Starting is all or nothing: the backend is asked first how many cycles are open and how
many it runs at once (KTRDR_MAX_ACTIVE_CYCLES), and none starts when N do not fit. Should
another caller fill it meanwhile and a trigger be refused, the cycles this command already
started are cancelled and the refusal is the one error shown.
While following, the first Ctrl+C cancels every cycle, a second exits at once (with
``--on-interrupt detach`` it stops watching instead, the cycles keep running: exit 4). The
exit code is 0 only if all completed; 130 after Ctrl+C; 1 otherwise.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ktrdr.cli.monitor import MONITOR_TIMEOUT, sigint_routed
from ktrdr.cli.options import InterruptAction
from ktrdr.cli.output import EXIT_CANCELLED, EXIT_DETACHED, EXIT_FAILED, EXIT_OK, print_json
from ktrdr.cli.views.notify import TerminalNotifier, batch_sentence
from ktrdr.client.errors import ApiError, ClientError, api_error
from ktrdr.client.follow import Follower, ViewState
from ktrdr.client.http import AsyncKtrdrClient, KtrdrClient
from ktrdr.config import Settings
from ktrdr.contract.requests import AgentTriggerRequest
from ktrdr.records.models import OperationStatus


@dataclass(frozen=True)
class StartedCycle:
    operation_id: str
    seed: int


def start_cycles(
    client: KtrdrClient, request: AgentTriggerRequest, first_seed: int, count: int
) -> list[StartedCycle]:
    """Send ``count`` triggers, ``request`` with seeds ``first_seed``...; none when the
    backend has no room for ``count`` more; on a refusal, cancel what was started and
    re-raise it."""
    _check_room(client, count)
    started: list[StartedCycle] = []
    # One id for the batch, so the backend can tell (a webhook says) when all have ended.
    batch = {"batch_id": f"batch_{secrets.token_hex(8)}", "batch_size": count}
    try:
        for seed in range(first_seed, first_seed + count):
            # Not validated here: a seed past the bound is the backend's 422 to explain.
            each = request.model_copy(update={"seed": seed, **batch})
            started.append(StartedCycle(client.trigger_cycle(each).operation_id, seed))
    except ApiError as exc:
        for cycle in started:
            try:
                client.cancel_operation(cycle.operation_id)
            except ClientError:
                pass  # already over, or the backend went away: nothing more to undo here
        undone = f"; the {len(started)} it had started are cancelled" if started else ""
        raise api_error(
            exc.status_code,
            exc.code,
            f"Could not start {count} research cycles: {exc.message}{undone}",
            exc.details,
        ) from None
    return started


def _check_room(client: KtrdrClient, count: int) -> None:
    """A 409 (as the backend's own refusal would be) when the cycles open plus ``count``
    exceed the backend's limit; a backend that does not say its limit is not asked again."""
    status = client.agent_status()
    limit, open_now = status.max_active_cycles, status.open_cycles
    if limit is None or open_now is None or open_now + count <= limit:
        return
    are_open = {0: "", 1: " and 1 research cycle is open"}.get(
        open_now, f" and {open_now} research cycles are open"
    )
    raise api_error(
        409,
        "cycle_already_active",
        f"Could not start {count} research cycles: this backend runs at most {limit} at "
        f"once (KTRDR_MAX_ACTIVE_CYCLES={limit}){are_open}; none was started",
        {"open_cycles": open_now, "max_active_cycles": limit, "requested": count},
    )


def announce(cycles: Sequence[StartedCycle], json_out: bool) -> None:
    if json_out:
        print_json([{"operation_id": c.operation_id, "seed": c.seed} for c in cycles])
        return
    lines = [f"{c.operation_id}  seed {c.seed}" for c in cycles]
    sys.stdout.write(
        f"{len(cycles)} research cycles started:\n  "
        + "\n  ".join(lines)
        + "\n  watch one: ktrdr ops follow ID\n"
        + "  rank them: ktrdr agent results\n"
    )


class CyclesSession:
    """Follows several cycles at once and draws them on one board."""

    def __init__(
        self,
        base_url: str,
        cycles: Sequence[StartedCycle],
        board: Board,
        *,
        token: str | None,
        give_up_after: float,
        on_interrupt: InterruptAction = InterruptAction.CANCEL,
        notifier: TerminalNotifier | None = None,
    ) -> None:
        self.base_url = base_url
        self.cycles = list(cycles)
        self.board = board
        self.token = token
        self.give_up_after = give_up_after
        self.states = [ViewState(operation_id=c.operation_id) for c in cycles]
        self.interrupts = 0
        self.hard_exit = False
        self.on_interrupt = on_interrupt
        self.notifier = notifier or TerminalNotifier(enabled=False)
        self.detached = False

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        client = AsyncKtrdrClient(self.base_url, timeout=MONITOR_TIMEOUT, token=self.token)
        cancels: list[asyncio.Task[None]] = []

        def on_sigint() -> None:
            self.interrupts += 1
            if self.on_interrupt is InterruptAction.DETACH:
                if main is not None:  # stop following only: nothing is sent
                    self.detached = True
                    main.cancel()
            elif self.interrupts == 1:
                self.board.note(f"⚠️ Cancelling {len(self.cycles)} research cycles...")
                cancels.append(loop.create_task(self._cancel_all(client)))
            elif main is not None:
                self.hard_exit = True
                main.cancel()

        def chosen() -> bool:  # a second Ctrl+C, or a detach: the end the user asked for
            return self.hard_exit or self.detached

        try:
            with sigint_routed(loop, on_sigint, chosen, view=self.board):
                await asyncio.gather(
                    *(self._follow(client, index) for index in range(len(self.cycles)))
                )
        finally:
            if cancels:
                await asyncio.wait(cancels, timeout=1.0)
            await client.aclose()
        return self._finish()

    async def _follow(self, client: AsyncKtrdrClient, index: int) -> None:
        follower = Follower(client.get_tree, give_up_after=self.give_up_after)
        async for state, _ in follower.follow(self.cycles[index].operation_id):
            self.states[index] = state
            self.board.update(self.states)

    async def _cancel_all(self, client: AsyncKtrdrClient) -> None:
        async def cancel(operation_id: str) -> None:
            try:
                await client.cancel_operation(operation_id)
            except ClientError as exc:
                if exc.code != "operation_already_finished":
                    self.board.note(f"Could not cancel {operation_id}: {exc.message}")

        await asyncio.gather(*(cancel(c.operation_id) for c in self.cycles))

    def _finish(self) -> int:
        if self.hard_exit:
            self.board.note("Exiting now; the cancel requests stay in place (ktrdr ops list).")
            return EXIT_CANCELLED
        running = [s.operation_id for s in self.states if not s.done]
        if self.detached and running:
            some = (
                "1 research cycle keeps"
                if len(running) == 1
                else f"{len(running)} research cycles keep"
            )
            self.board.note(
                f"Stopped watching; {some} running. Cancel one with: ktrdr ops cancel ID "
                f"({', '.join(running)})"
            )
            return EXIT_DETACHED
        if not self.interrupts:  # whoever pressed Ctrl+C is at the terminal already
            self.notifier.notify(batch_sentence(self.states))
        completed = sum(
            1
            for s in self.states
            if s.parent is not None and s.parent.status is OperationStatus.COMPLETED
        )
        self.board.note(
            f"{completed} of {len(self.states)} research cycles completed. "
            f"Rank them: ktrdr agent results (or {self.base_url.rstrip('/')}/results)"
        )
        if completed == len(self.states):
            return EXIT_OK
        return EXIT_CANCELLED if self.interrupts else EXIT_FAILED


class Board(Protocol):
    """What the session draws on (LiveBoard or PlainBoard in ktrdr.cli.views.board)."""

    def start(self) -> None: ...

    def update(self, states: Sequence[ViewState]) -> None: ...

    def note(self, text: str) -> None: ...

    def stop(self) -> None: ...


def follow_cycles(
    base_url: str,
    cycles: Sequence[StartedCycle],
    settings: Settings,
    *,
    plain: bool,
    notify: bool = False,
    on_interrupt: InterruptAction = InterruptAction.CANCEL,
) -> int:
    import time

    from ktrdr.cli.views.board import LiveBoard, PlainBoard
    from ktrdr.cli.views.console import live_suits, stdout_console

    console = stdout_console()
    seeds = [c.seed for c in cycles]
    board: Board = (
        LiveBoard(console, seeds)
        if not plain and live_suits(console, settings.no_color)
        else PlainBoard(console, seeds, time.monotonic)
    )
    session = CyclesSession(
        base_url,
        cycles,
        board,
        token=settings.token,
        give_up_after=settings.monitor_give_up_seconds,
        on_interrupt=on_interrupt,
        notifier=TerminalNotifier(enabled=notify),
    )
    try:
        return asyncio.run(session.run())
    except KeyboardInterrupt:
        return EXIT_DETACHED if on_interrupt is InterruptAction.DETACH else EXIT_CANCELLED
