"""`ktrdr ops wait ID...`: block until every operation has ended, a line for each as it ends.

Every operation is followed at once through the tree long-poll (the client's Follower): the
backend holds one request per operation and answers when that tree changes, so a wait on
work that takes hours costs a few requests a minute, not a busy poll. Ctrl+C only stops
waiting: nothing is ever cancelled from here.

Exit codes: 0 once all ended; with ``--exit-status`` (as ``gh run watch --exit-status``),
0 only if all completed, 1 if any failed, else 3 if any was cancelled. Either way 1 when
an operation was lost or the backend stopped answering (nobody saw it end), and 4 when
Ctrl+C stopped the wait before the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ktrdr.cli.monitor import DEFAULT_GIVE_UP_SECONDS, MONITOR_TIMEOUT, sigint_routed
from ktrdr.cli.output import (
    EXIT_CANCELLED_ELSEWHERE,
    EXIT_DETACHED,
    EXIT_FAILED,
    EXIT_OK,
    echo,
    reader_went_away,
    terminal_safe,
)
from ktrdr.cli.views.notify import batch_sentence, ended_headline, notifier_for
from ktrdr.cli.views.outcomes import down_for_shown
from ktrdr.client.follow import Follower, ViewState
from ktrdr.client.http import AsyncKtrdrClient, AsyncTransport
from ktrdr.config import Settings
from ktrdr.records.kinds import kind_noun
from ktrdr.records.models import OperationStatus


@dataclass(frozen=True)
class Ended:
    """An operation whose follow has ended, as last seen."""

    state: ViewState
    give_up_after: float | None = None  # the give-up time the user set, if any

    @property
    def operation_id(self) -> str:
        return self.state.operation_id

    @property
    def outcome(self) -> str:
        """``completed``, ``failed`` or ``cancelled``; ``lost`` when the backend no longer
        knows it, ``gave_up`` when the backend stopped answering."""
        if self.state.lost:
            return "lost"
        if self.state.gave_up or self.state.parent is None:
            return "gave_up"
        return self.state.parent.status.value

    @property
    def headline(self) -> str:
        parent = self.state.parent
        if self.state.lost:
            return "not found: the backend no longer knows it"
        if self.state.gave_up or parent is None:
            down_for = down_for_shown(self.state, self.give_up_after)
            return f"the backend stopped answering ({down_for:.0f} s)"
        return ended_headline(parent)


def ended_line(ended: Ended) -> str:
    """``op_...  research cycle  completed  verdict promising``."""
    parent = ended.state.parent
    kind = kind_noun(parent.operation_type) if parent is not None else "operation"
    return f"{ended.operation_id}  {kind}  {ended.outcome}  {ended.headline}"


def ended_json(ended: Ended) -> dict[str, Any]:
    """One ``--json`` line: the outcome, its headline and the operation's own figures."""
    parent = ended.state.parent
    return {
        "operation_id": ended.operation_id,
        "operation_type": parent.operation_type.value if parent is not None else None,
        "status": ended.outcome,
        "headline": ended.headline,
        "error_message": parent.error_message if parent is not None else None,
        "completed_at": parent.completed_at.isoformat()
        if parent is not None and parent.completed_at is not None
        else None,
        "result_summary": parent.result_summary if parent is not None else None,
    }


def wait_exit_code(ended: Sequence[Ended], *, exit_status: bool) -> int:
    """The exit code once every operation ended (see the module docstring)."""
    outcomes = {item.outcome for item in ended}
    if outcomes & {"lost", "gave_up"}:
        return EXIT_FAILED
    if not exit_status:
        return EXIT_OK
    if OperationStatus.FAILED.value in outcomes:
        return EXIT_FAILED  # a failure says more than a cancel: it wins
    if OperationStatus.CANCELLED.value in outcomes:
        return EXIT_CANCELLED_ELSEWHERE
    return EXIT_OK


class WaitSession:
    """Follows every operation until each has ended, calling ``report`` for each as it
    ends; the first Ctrl+C stops the wait (``interrupted``) and leaves them all running."""

    def __init__(
        self,
        base_url: str,
        operation_ids: Sequence[str],
        report: Callable[[Ended], None],
        *,
        token: str | None = None,
        give_up_after: float = DEFAULT_GIVE_UP_SECONDS,
        transport: AsyncTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.operation_ids = list(dict.fromkeys(operation_ids))  # each once, in order
        self.report = report
        self.token = token
        self.give_up_after = give_up_after
        self.transport = transport
        self.ended: list[Ended] = []
        self.interrupted = False

    @property
    def still_running(self) -> list[str]:
        done = {item.operation_id for item in self.ended}
        return [op_id for op_id in self.operation_ids if op_id not in done]

    async def run(self) -> list[Ended]:
        """The operations that ended, in the order they ended (all of them unless
        ``interrupted``)."""
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        client = AsyncKtrdrClient(
            self.base_url, timeout=MONITOR_TIMEOUT, transport=self.transport, token=self.token
        )

        def on_sigint() -> None:
            if main is not None and not self.interrupted:
                self.interrupted = True
                main.cancel()

        try:
            with sigint_routed(loop, on_sigint, chosen=lambda: self.interrupted):
                await asyncio.gather(*(self._follow(client, op_id) for op_id in self.operation_ids))
        finally:
            await client.aclose()
        return list(self.ended)

    async def _follow(self, client: AsyncKtrdrClient, operation_id: str) -> None:
        follower = Follower(client.get_tree, give_up_after=self.give_up_after)
        last = ViewState(operation_id=operation_id)
        async for state, _events in follower.follow(operation_id):
            last = state
        ended = Ended(last, self.give_up_after)
        self.ended.append(ended)
        self.report(ended)


def _print_json_line(value: dict[str, Any]) -> None:
    try:
        sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()  # each line as it ends: a reader acts on it at once
    except BrokenPipeError:
        reader_went_away()


def _say(text: str) -> None:
    """A line for the person (stderr), so stdout keeps the lines or JSON a script reads."""
    sys.stderr.write(terminal_safe(text) + "\n")
    sys.stderr.flush()


def stopped_waiting_message(running: Sequence[str]) -> str:
    if len(running) == 1:
        return f"Stopped waiting; it keeps running. Cancel it with: ktrdr ops cancel {running[0]}"
    return (
        f"Stopped waiting; {len(running)} keep running ({', '.join(running)}). "
        "Cancel one with: ktrdr ops cancel ID"
    )


def run_wait(
    base_url: str,
    operation_ids: Sequence[str],
    settings: Settings,
    *,
    json_out: bool,
    exit_status: bool,
    notify: bool,
) -> int:
    """Wait for ``operation_ids`` (known to exist), print each as it ends; the exit code."""

    def report(ended: Ended) -> None:
        if json_out:
            _print_json_line(ended_json(ended))
        else:
            echo(ended_line(ended))

    session = WaitSession(
        base_url,
        operation_ids,
        report,
        token=settings.token,
        give_up_after=settings.monitor_give_up_seconds,
    )
    if sys.stderr.isatty() and not json_out:
        count = len(session.operation_ids)
        what = "it" if count == 1 else f"{count} operations"
        _say(f"Waiting for {what} to end (Ctrl+C stops waiting; nothing is cancelled)...")
    try:
        ended = asyncio.run(session.run())
    except KeyboardInterrupt:  # a Ctrl+C that landed outside the event loop
        session.interrupted = True
        ended = list(session.ended)
    if session.interrupted and session.still_running:
        _say(stopped_waiting_message(session.still_running))
        return EXIT_DETACHED
    notifier_for(notify, machine_output=json_out).notify(
        batch_sentence([item.state for item in ended])
    )
    return wait_exit_code(ended, exit_status=exit_status)
