"""Following an operation: long-poll its tree and turn answers into view states.

The follower knows nothing about terminals. It yields ``(ViewState, events)`` pairs when
something changed (and at least every ``tick_interval`` so clocks can tick); a renderer
draws them. One request per answer: ``GET /operations/{id}/tree?since=V&wait=S`` brings
the operation with every descendant (so the active child comes along) as soon as anything
in the tree changes, or a 304 after ``S`` seconds. The journal of changes in each answer
names phases that came and went between two answers.

A cycle may run several children at once: the state carries every running direct child
(least advanced first, the active one first) with counts of the others, and a child
appearing or ending is an event whichever child it is.

The wait adapts: ``min_wait`` after an answer that carried news, doubling after each 304 up
to ``max_wait``. Work that moves answers many times a second whatever the wait; work that
stands still costs about two requests a minute. While a request is held the clocks still
tick locally (and a stall is noticed) every ``tick_interval``. The short wait after news
also bounds how long a backend that hangs mid-request goes unnoticed while work moves
(the client's timeout is its own plus the wait).

Every decision (what an answer changes, what to show, what to ask next) is made by the pure
``step`` of ``ktrdr.client.follow_step``; ``Follower.follow`` only sends the requests, waits,
sleeps and hands on what ``step`` says to show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from ktrdr.client.errors import BackendUnavailableError, NotFoundApiError
from ktrdr.client.follow_step import (
    DEFAULT_STALL_SECONDS,
    Answer,
    Connection,
    Event,
    EventKind,
    FollowSettings,
    Gone,
    NotModified,
    Shown,
    TreeAnswer,
    Unreachable,
    ViewState,
    begin,
    step,
    tick,
)
from ktrdr.client.tree_reading import (
    Children,
    active_child_id,
    child_id_of,
    phase_or_status,
    phases_before,
    read_children,
)
from ktrdr.contract.operations import OperationPublic, TreePublic
from ktrdr.contract.results import stopped_at_of
from ktrdr.operations.stops import stopped_sentence
from ktrdr.records.models import OperationType

# (operation id, the tree version last seen, seconds the server may hold the request):
# the tree, or None when nothing changed within the wait (HTTP 304).
FetchTree = Callable[[str, int, float], Awaitable[TreePublic | None]]

__all__ = [
    "DEFAULT_STALL_SECONDS",
    "Children",
    "Connection",
    "Event",
    "EventKind",
    "FetchTree",
    "Follower",
    "ViewState",
    "active_child_id",
    "child_id_of",
    "describe_stop",
    "phase_or_status",
    "phases_before",
    "read_children",
]


class Follower:
    def __init__(
        self,
        fetch: FetchTree,
        *,
        poll_interval: float = 0.3,
        max_backoff: float = 5.0,
        give_up_after: float = 180.0,
        tick_interval: float = 1.0,
        min_wait: float = 2.0,
        max_wait: float = 30.0,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # The pacing, explained field by field in FollowSettings.
        self._fetch = fetch
        self.settings = FollowSettings(
            poll_interval,
            max_backoff,
            give_up_after,
            tick_interval,
            min_wait,
            max_wait,
            stall_seconds,
        )
        self._clock = clock
        self._sleep = sleep

    def backoff(self, attempts: int) -> float:
        """Delay before retry number ``attempts`` (1-based): doubling, capped."""
        return self.settings.backoff(attempts)

    async def follow(self, operation_id: str) -> AsyncIterator[Shown]:
        """Yield ``(ViewState, events)`` whenever ``step`` says so, until the follow ends."""
        state, ask = begin(operation_id, self.settings)
        every = state.settings.tick_interval
        while True:
            if ask.pause is not None:
                await self._sleep(ask.pause)
            fetching = asyncio.ensure_future(self._fetch(operation_id, ask.since, ask.wait))
            try:
                # While the request is held the clocks tick locally (and a stall shows).
                while not (await asyncio.wait({fetching}, timeout=every))[0]:
                    state, shown = tick(state, self._clock())
                    if shown is not None:
                        yield shown
                answer = _answer_of(fetching)
            finally:
                fetching.cancel()  # only still running when the reader stopped reading
            state, shown, next_ask = step(state, answer, self._clock())
            if shown is not None:
                yield shown
            if next_ask is None:
                return
            ask = next_ask


def _answer_of(fetched: asyncio.Future[TreePublic | None]) -> Answer:
    """A finished request as an answer; any error but these two is the caller's to see."""
    try:
        tree = fetched.result()
    except NotFoundApiError:
        return Gone()
    except BackendUnavailableError as exc:
        return Unreachable(exc.message)
    return NotModified() if tree is None else TreeAnswer(tree)


def describe_stop(parent: OperationPublic | None, child: OperationPublic | None) -> str:
    """Where a cancelled operation stopped, as a sentence for the user."""
    where = stopped_at_of(parent) if parent is not None else None
    if parent is not None and parent.operation_type is not OperationType.AGENT_RESEARCH:
        child, where = parent, None  # a single job: phrase its own stop like a child's
    if where:
        text = where if not where[0].islower() else where[0].upper() + where[1:]
        return text.rstrip(".") + "."
    if child is not None:
        child_where = stopped_at_of(child) or child.progress.current_step
        label = "Training" if child.operation_type is OperationType.TRAINING else "Backtest"
        if child_where:
            return stopped_sentence(label, str(child_where)) + "."
    if parent is not None:
        phase = phase_or_status(parent)
        if parent.operation_type is OperationType.AGENT_RESEARCH:
            return f"Stopped while {phase.rstrip('.')}."
        step = parent.progress.current_step
        if step:
            return f"Stopped at {step[:1].lower()}{step[1:]}."
    return "Stopped."
