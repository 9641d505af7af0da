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
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ktrdr.client.errors import BackendUnavailableError, NotFoundApiError
from ktrdr.client.stall import ProgressAge, progress_age, stalled_for
from ktrdr.client.tree_reading import (
    child_id_of,
    phase_or_status,
    phases_passed,
)
from ktrdr.contract.operations import OperationPublic, TreePublic
from ktrdr.contract.progress import research_cycle_context_of
from ktrdr.contract.results import stopped_at_of
from ktrdr.operations.models import OperationStatus, OperationType
from ktrdr.operations.stops import stopped_sentence

# (operation id, the tree version last seen, seconds the server may hold the request):
# the tree, or None when nothing changed within the wait (HTTP 304).
FetchTree = Callable[[str, int, float], Awaitable[TreePublic | None]]

DEFAULT_STALL_SECONDS = 30.0

__all__ = [
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
    "read_children",
]


class EventKind(StrEnum):
    STARTED = "started"
    PHASE_CHANGED = "phase_changed"
    PHASE_PASSED = "phase_passed"  # a phase that began and ended between two answers
    CHILD_APPEARED = "child_appeared"
    CHILD_GONE = "child_gone"
    STALLED = "stalled"  # no progress report for the stall threshold
    STALL_CLEARED = "stall_cleared"  # progress reported again
    CONNECTION_LOST = "connection_lost"
    CONNECTION_RESTORED = "connection_restored"
    FINISHED = "finished"
    OPERATION_LOST = "operation_lost"
    GAVE_UP = "gave_up"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    detail: str = ""
    # The child a CHILD_APPEARED or CHILD_GONE event is about, as that answer showed it
    # (None when the answer did not carry it). Not part of equality: the detail names it.
    operation: OperationPublic | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Connection:
    ok: bool = True
    attempts: int = 0
    next_delay: float = 0.0
    down_for: float = 0.0


@dataclass(frozen=True)
class Children:
    """The watched operation's direct children in one answer.

    ``running``: the running ones, least advanced first, the active child first. ``done``,
    ``failed``, ``cancelled``: the children that ended so; ``pending``: those waiting for a
    worker, but for the active child (it is shown, as queued).
    ``watched``: every running child and the active one whatever its status, in creation
    order; a change in this set is what CHILD_APPEARED and CHILD_GONE report."""

    running: tuple[OperationPublic, ...] = ()
    pending: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    watched: tuple[str, ...] = ()


@dataclass(frozen=True)
class ViewState:
    operation_id: str
    parent: OperationPublic | None = None
    child: OperationPublic | None = None
    phase: str | None = None
    connection: Connection = field(default_factory=Connection)
    received_at: float = 0.0  # clock() when the parent snapshot arrived
    done: bool = False
    lost: bool = False
    gave_up: bool = False
    # Seconds since the running work last reported progress, once over the threshold.
    stalled_for: float | None = None
    children: Children = field(default_factory=Children)


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
        # poll_interval: the first retry delay, and the pace of requests when the backend
        # can only answer with state (no journal), which it then does at once.
        self._fetch = fetch
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.give_up_after = give_up_after
        self.tick_interval = tick_interval
        self.min_wait = min_wait
        self.max_wait = max_wait
        self.stall_seconds = stall_seconds
        self._clock = clock
        self._sleep = sleep

    def backoff(self, attempts: int) -> float:
        """Delay before retry number ``attempts`` (1-based): doubling, capped."""
        return float(min(self.poll_interval * 2.0 ** (attempts - 1), self.max_backoff))

    async def follow(self, operation_id: str) -> AsyncIterator[tuple[ViewState, list[Event]]]:
        state = ViewState(operation_id=operation_id)
        since = 0
        last_versions: tuple[int, ...] | None = None
        last_yield = float("-inf")
        down_since: float | None = None
        attempts = 0
        age: ProgressAge | None = None
        wait = self.min_wait
        while True:
            events: list[Event] = []
            fetching = asyncio.ensure_future(self._fetch(operation_id, since, wait))
            try:
                while not (await asyncio.wait({fetching}, timeout=self.tick_interval))[0]:
                    if state.parent is None or state.done or not state.connection.ok:
                        continue
                    # The request is held: the clocks tick and a stall shows meanwhile.
                    now = self._clock()
                    stall = stalled_for(age, now, self.stall_seconds)
                    ticked = _stall_events(state.stalled_for, stall)
                    state = replace(state, stalled_for=stall)
                    yield state, ticked
                    last_yield = now
                tree = fetching.result()
            except NotFoundApiError:
                yield replace(state, lost=True, done=True), [Event(EventKind.OPERATION_LOST)]
                return
            except BackendUnavailableError as exc:
                now = self._clock()
                attempts += 1
                wait = self.min_wait  # once it answers again, news should come quickly
                if down_since is None:
                    down_since = now
                    events.append(Event(EventKind.CONNECTION_LOST, exc.message))
                down_for = now - down_since
                delay = self.backoff(attempts)
                conn = Connection(ok=False, attempts=attempts, next_delay=delay, down_for=down_for)
                if down_for >= self.give_up_after:
                    state = replace(state, connection=conn, gave_up=True, done=True)
                    yield state, [*events, Event(EventKind.GAVE_UP, exc.message)]
                    return
                state = replace(state, connection=conn)
                yield state, events
                last_yield = now
                await self._sleep(delay)
                continue
            finally:
                fetching.cancel()  # only still running when the reader stopped reading

            wait = self.min_wait if tree is not None else min(wait * 2, self.max_wait)
            now = self._clock()
            if down_since is not None:
                events.append(Event(EventKind.CONNECTION_RESTORED))
                down_since, attempts = None, 0
            if tree is None:  # 304: nothing changed within the wait; the clocks still tick
                if state.parent is None:
                    continue
                stall = stalled_for(age, now, self.stall_seconds)
                events += _stall_events(state.stalled_for, stall)
                state = replace(state, connection=Connection(), stalled_for=stall)
                if events or now - last_yield >= self.tick_interval:
                    yield state, events
                    last_yield = now
                continue

            parent = tree.operations[0]
            fresh = _read_tree(operation_id, tree, now)
            events += _changes(state, fresh, tree)
            if state.parent is None:
                events.insert(0, Event(EventKind.STARTED, fresh.phase or ""))
            age = progress_age(parent, _liveliest(fresh), now)
            stall = stalled_for(age, now, self.stall_seconds)
            if not parent.is_terminal:
                events += _stall_events(state.stalled_for, stall)
            state = replace(fresh, stalled_for=stall)
            since = tree.version
            versions = _versions(state)
            if parent.is_terminal:
                events.append(Event(EventKind.FINISHED, parent.status.value))
                yield state, events
                return
            if events or versions != last_versions or now - last_yield >= self.tick_interval:
                yield state, events
                last_yield = now
            last_versions = versions
            if not tree.complete:
                # A state-only answer comes at once (nothing to wait on): pace the requests.
                await self._sleep(self.poll_interval)


def _read_tree(operation_id: str, tree: TreePublic, now: float) -> ViewState:
    """The view state one answer gives (before the stall is worked out)."""
    parent = tree.operations[0]
    active_id = active_child_id(parent)
    child = next((op for op in tree.operations[1:] if op.operation_id == active_id), None)
    return ViewState(
        operation_id=operation_id,
        parent=parent,
        child=child,
        phase=phase_or_status(parent),
        received_at=now,
        done=parent.is_terminal,
        children=read_children(tree, active_id),
    )


def active_child_id(parent: OperationPublic) -> str | None:
    """The child the watched operation waits on most, None once it ended.

    A cycle's progress context names it whenever the cycle's phase machine wrote one (the
    least advanced running child, kept current within a phase); the phase table's
    parameter names it otherwise (the same child, but not cleared within a phase)."""
    if parent.is_terminal:
        return None
    context = research_cycle_context_of(parent)
    if context is not None and context.phase is not None:
        return context.child_op_id
    return child_id_of(parent)


def read_children(tree: TreePublic, active_id: str | None) -> Children:
    """The root's direct children in one answer (see ``Children``)."""
    root = tree.operations[0]
    kids = [
        op
        for op in tree.operations[1:]
        if op.parent_operation_id == root.operation_id or op.operation_id == active_id
    ]
    statuses = [op.status for op in kids if op.operation_id != active_id]
    done = sum(1 for op in kids if op.status is OperationStatus.COMPLETED)
    failed = sum(1 for op in kids if op.status is OperationStatus.FAILED)
    cancelled = sum(1 for op in kids if op.status is OperationStatus.CANCELLED)
    pending = statuses.count(OperationStatus.PENDING)
    if root.is_terminal:
        # An ended operation waits on nothing: a child still shown as running is ending too.
        return Children(pending=pending, done=done, failed=failed, cancelled=cancelled)
    running = [op for op in kids if op.status is OperationStatus.RUNNING]
    # Least advanced first (a stable sort keeps creation order among equals), the active
    # child before all: it is the one the whole cycle waits on.
    running.sort(key=lambda op: (op.operation_id != active_id, op.progress.percentage))
    watched = [op.operation_id for op in kids if op.status is OperationStatus.RUNNING]
    if active_id is not None and active_id not in watched:
        watched.append(active_id)  # named before it runs (queued), or not in this answer
    return Children(
        running=tuple(running),
        pending=pending,
        done=done,
        failed=failed,
        cancelled=cancelled,
        watched=tuple(watched),
    )


def _liveliest(state: ViewState) -> OperationPublic | None:
    """The child whose reports say whether the work is alive: the one that reported last
    among the running ones (any of them moving means the cycle is not stalled), else the
    active child (queued, or just ended)."""
    reporting = [op for op in state.children.running if op.last_progress_at is not None]
    if not reporting:
        return state.child
    return max(reporting, key=lambda op: op.last_progress_at or op.created_at)


def _versions(state: ViewState) -> tuple[int, ...]:
    """What a new yield is due on: the root, the active child or any running child moved."""
    parent, child = state.parent, state.child
    return (
        parent.version if parent is not None else 0,
        child.version if child is not None else 0,
        *(op.version for op in state.children.running),
    )


def _changes(before: ViewState, after: ViewState, tree: TreePublic) -> list[Event]:
    """What an answer changed against the state before it: the children that ended or
    stopped being watched, those that appeared, then the phase (the ones passed in
    between, then the new one)."""
    events: list[Event] = []
    old, new = before.children.watched, after.children.watched
    known = {op.operation_id: op for op in tree.operations[1:]}
    for op_id in old:
        if op_id not in new:
            events.append(Event(EventKind.CHILD_GONE, op_id, known.get(op_id)))
    for op_id in new:
        if op_id not in old:
            events.append(Event(EventKind.CHILD_APPEARED, op_id, known.get(op_id)))
    phase = after.phase
    if before.parent is not None and phase != before.phase:
        events += [Event(EventKind.PHASE_PASSED, p) for p in phases_passed(before.phase, tree)]
        events.append(Event(EventKind.PHASE_CHANGED, phase or ""))
    return events


def _stall_events(before: float | None, after: float | None) -> list[Event]:
    if before is None and after is not None:
        return [Event(EventKind.STALLED, f"{after:.0f}")]
    if before is not None and after is None:
        return [Event(EventKind.STALL_CLEARED)]
    return []


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
