"""The follower's decisions, without any I/O: what an answer to the tree long-poll changes,
what to show for it, and what to ask next.

``step(state, answer, now)`` takes the follower's whole state (``FollowState``), one answer
(a tree, a 304, the backend unreachable, the operation gone) and the monotonic time it came
at; it gives the new state, what to show (a view state with the events it carries, or
nothing) and the next request (the version to ask from, how long the server may hold it,
how long to pause before sending it), or no request once the follow ended. ``tick`` is the
same while a request is still held: the clocks move and a stall can show.

``ktrdr.client.follow.Follower`` is the loop around these that sends the requests and
sleeps; everything that can be decided is decided here, so it can be tested on a fake
clock with no event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import NamedTuple

from ktrdr.client.stall import ProgressAge, progress_age, stalled_for
from ktrdr.client.tree_reading import (
    Children,
    active_child_id,
    phase_or_status,
    phases_passed,
    read_children,
)
from ktrdr.contract.operations import OperationPublic, TreePublic

DEFAULT_STALL_SECONDS = 30.0


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


# The events that end a follow: each follow ends with exactly one of them.
ENDINGS = frozenset({EventKind.FINISHED, EventKind.OPERATION_LOST, EventKind.GAVE_UP})


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


@dataclass(frozen=True)
class FollowSettings:
    """How the follower paces itself (see ``ktrdr.client.follow`` for why these values)."""

    poll_interval: float = 0.3
    """The first retry delay, and the pause between requests when the backend can only
    answer with state (no journal), which it then does at once."""
    max_backoff: float = 5.0
    """The longest pause between retries while the backend is unreachable."""
    give_up_after: float = 180.0
    """How long the backend may stay unreachable before the follow gives up."""
    tick_interval: float = 1.0
    """How often the clocks tick while nothing else is shown."""
    min_wait: float = 2.0
    """How long the server may hold the request after news (and after an outage)."""
    max_wait: float = 30.0
    """The longest hold: the wait doubles after each 304 up to this."""
    stall_seconds: float = DEFAULT_STALL_SECONDS
    """Seconds without a progress report that make the running work stalled."""

    def backoff(self, attempts: int) -> float:
        """Delay before retry number ``attempts`` (1-based): doubling, capped."""
        return float(min(self.poll_interval * 2.0 ** (attempts - 1), self.max_backoff))


@dataclass(frozen=True)
class TreeAnswer:
    """The tree, because something in it changed since the version asked from."""

    tree: TreePublic


@dataclass(frozen=True)
class NotModified:
    """A 304: nothing changed within the wait."""


@dataclass(frozen=True)
class Unreachable:
    """No answer: the backend refused, reset or timed out."""

    message: str


@dataclass(frozen=True)
class Gone:
    """A 404: the operation is not known (any more)."""


Answer = TreeAnswer | NotModified | Unreachable | Gone


@dataclass(frozen=True)
class Ask:
    """The next request: the tree since version ``since``, held up to ``wait`` seconds,
    sent after a pause of ``pause`` seconds (None: at once)."""

    since: int
    wait: float
    pause: float | None = None


@dataclass(frozen=True)
class FollowState:
    settings: FollowSettings
    view: ViewState  # what was last shown (or is about to be)
    since: int = 0  # the tree version last seen
    wait: float = 0.0  # how long the next request may be held
    versions: tuple[int, ...] | None = None  # see _versions, as of the last tree
    shown_at: float = float("-inf")  # when something was last shown
    down_since: float | None = None  # when the current outage began
    attempts: int = 0  # requests failed in a row
    age: ProgressAge | None = None  # how old the newest progress report was, and when
    ended: bool = False


Shown = tuple[ViewState, list[Event]]


class Step(NamedTuple):
    state: FollowState
    shown: Shown | None  # what to show for this answer, if anything
    ask: Ask | None  # the next request; None once the follow ended


def begin(operation_id: str, settings: FollowSettings) -> tuple[FollowState, Ask]:
    """The state before the first answer, and the first request."""
    state = FollowState(settings, ViewState(operation_id=operation_id), wait=settings.min_wait)
    return state, Ask(since=0, wait=settings.min_wait)


def tick(state: FollowState, now: float) -> tuple[FollowState, Shown | None]:
    """The request is still held after ``tick_interval``: the clocks tick, a stall shows.

    Nothing to show before the first answer, after the end, or while the backend is down
    (the retry itself shows that)."""
    view = state.view
    if view.parent is None or view.done or not view.connection.ok:
        return state, None
    stall = stalled_for(state.age, now, state.settings.stall_seconds)
    view = replace(view, stalled_for=stall)
    ticked = _stall_events(state.view.stalled_for, stall)
    return replace(state, view=view, shown_at=now), (view, ticked)


def step(state: FollowState, answer: Answer, now: float) -> Step:
    """What ``answer``, come at monotonic time ``now``, changes (see the module docstring)."""
    if state.ended:
        raise ValueError("the follow has ended: no answer is awaited")
    if isinstance(answer, Gone):
        view = replace(state.view, lost=True, done=True)
        return _end(state, view, [Event(EventKind.OPERATION_LOST)])
    if isinstance(answer, Unreachable):
        return _unreachable(state, answer.message, now)
    events: list[Event] = []
    if state.down_since is not None:
        events.append(Event(EventKind.CONNECTION_RESTORED))
        state = replace(state, down_since=None, attempts=0)
    if isinstance(answer, NotModified):
        return _not_modified(state, events, now)
    return _tree(state, answer.tree, events, now)


def _end(state: FollowState, view: ViewState, events: list[Event]) -> Step:
    """The last answer: show ``view`` with ``events`` (the last of them says why it ended)."""
    return Step(replace(state, view=view, ended=True), (view, events), None)


def _unreachable(state: FollowState, message: str, now: float) -> Step:
    settings = state.settings
    events: list[Event] = []
    down_since = state.down_since
    if down_since is None:
        down_since = now
        events.append(Event(EventKind.CONNECTION_LOST, message))
    attempts = state.attempts + 1
    down_for = now - down_since
    delay = settings.backoff(attempts)
    connection = Connection(ok=False, attempts=attempts, next_delay=delay, down_for=down_for)
    # Once it answers again, news should come quickly: the short wait.
    state = replace(state, down_since=down_since, attempts=attempts, wait=settings.min_wait)
    if down_for >= settings.give_up_after:
        view = replace(state.view, connection=connection, gave_up=True, done=True)
        return _end(state, view, [*events, Event(EventKind.GAVE_UP, message)])
    view = replace(state.view, connection=connection)
    state = replace(state, view=view, shown_at=now)
    return Step(state, (view, events), Ask(state.since, state.wait, pause=delay))


def _not_modified(state: FollowState, events: list[Event], now: float) -> Step:
    """Nothing changed within the wait: the clocks still tick, and the wait doubles."""
    settings = state.settings
    state = replace(state, wait=min(state.wait * 2, settings.max_wait))
    ask = Ask(state.since, state.wait)
    if state.view.parent is None:
        return Step(state, None, ask)  # nothing to show yet (a server answers since=0 at once)
    stall = stalled_for(state.age, now, settings.stall_seconds)
    events += _stall_events(state.view.stalled_for, stall)
    view = replace(state.view, connection=Connection(), stalled_for=stall)
    state = replace(state, view=view)
    if not events and now - state.shown_at < settings.tick_interval:
        return Step(state, None, ask)
    return Step(replace(state, shown_at=now), (view, events), ask)


def _tree(state: FollowState, tree: TreePublic, events: list[Event], now: float) -> Step:
    """News: the new view, the events against the one before, the short wait again."""
    settings = state.settings
    before = state.view
    parent = tree.operations[0]
    fresh = _read_tree(before.operation_id, tree, now)
    events += _changes(before, fresh, tree)
    if before.parent is None:
        events.insert(0, Event(EventKind.STARTED, fresh.phase or ""))
    age = progress_age(parent, _liveliest(fresh), now)
    stall = stalled_for(age, now, settings.stall_seconds)
    if not parent.is_terminal:
        events += _stall_events(before.stalled_for, stall)
    view = replace(fresh, stalled_for=stall)
    versions = _versions(view)
    state = replace(state, view=view, since=tree.version, wait=settings.min_wait, age=age)
    if parent.is_terminal:
        return _end(state, view, [*events, Event(EventKind.FINISHED, parent.status.value)])
    # A state-only answer comes at once (nothing to wait on): pace the requests.
    ask = Ask(state.since, state.wait, None if tree.complete else settings.poll_interval)
    moved = versions != state.versions
    state = replace(state, versions=versions)
    if not events and not moved and now - state.shown_at < settings.tick_interval:
        return Step(state, None, ask)
    return Step(replace(state, shown_at=now), (view, events), ask)


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
    """STALLED when a stall begins, STALL_CLEARED when it ends."""
    if before is None and after is not None:
        return [Event(EventKind.STALLED, f"{after:.0f}")]
    if before is not None and after is None:
        return [Event(EventKind.STALL_CLEARED)]
    return []
