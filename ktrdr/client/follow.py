"""Following an operation: poll it (and its active child) and turn snapshots into view states.

The follower knows nothing about terminals. It yields ``(ViewState, events)`` pairs when
something changed (and at least every ``tick_interval`` so clocks can tick); a renderer
draws them. Parent and child are fetched concurrently, using the child id of the previous
snapshot; when a new snapshot names another child, that child is fetched right away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ktrdr.agents.phases.table import CHILD_ID_KEY, ORDERED_PHASES
from ktrdr.client.errors import BackendUnavailableError, NotFoundApiError
from ktrdr.contract.operations import OperationPublic
from ktrdr.operations.models import OperationType
from ktrdr.operations.stops import stopped_sentence

Fetch = Callable[[str], Awaitable[OperationPublic]]

# A research cycle's phases in order: a jump over some of them means they passed between polls.
RESEARCH_PHASES: tuple[str, ...] = tuple(phase.value for phase in ORDERED_PHASES)
# Which metadata parameter holds a research cycle's child for each phase.
CHILD_KEYS: dict[str, str] = {phase.value: key for phase, key in CHILD_ID_KEY.items()}


class EventKind(StrEnum):
    STARTED = "started"
    PHASE_CHANGED = "phase_changed"
    PHASE_PASSED = "phase_passed"  # a phase that began and ended between two polls
    CHILD_APPEARED = "child_appeared"
    CHILD_GONE = "child_gone"
    CONNECTION_LOST = "connection_lost"
    CONNECTION_RESTORED = "connection_restored"
    FINISHED = "finished"
    OPERATION_LOST = "operation_lost"
    GAVE_UP = "gave_up"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    detail: str = ""


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


def phase_or_status(op: OperationPublic) -> str:
    """A research cycle's phase; for other operations (which have no phases), their status."""
    phase = op.metadata.parameters.get("phase")
    return str(phase) if phase else op.status.value


def child_id_of(op: OperationPublic) -> str | None:
    key = CHILD_KEYS.get(phase_or_status(op))
    if key is None or op.is_terminal:
        return None
    value = op.metadata.parameters.get(key)
    return value if isinstance(value, str) and value else None


class Follower:
    def __init__(
        self,
        fetch: Fetch,
        *,
        poll_interval: float = 0.3,
        max_backoff: float = 5.0,
        give_up_after: float = 180.0,
        tick_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._fetch = fetch
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.give_up_after = give_up_after
        self.tick_interval = tick_interval
        self._clock = clock
        self._sleep = sleep

    def backoff(self, attempts: int) -> float:
        """Delay before retry number ``attempts`` (1-based): doubling, capped."""
        return float(min(self.poll_interval * 2.0 ** (attempts - 1), self.max_backoff))

    async def _fetch_child(self, child_id: str | None) -> OperationPublic | None:
        if child_id is None:
            return None
        try:
            return await self._fetch(child_id)
        except NotFoundApiError:
            return None

    async def follow(self, operation_id: str) -> AsyncIterator[tuple[ViewState, list[Event]]]:
        state = ViewState(operation_id=operation_id)
        known_child: str | None = None
        last_versions: tuple[int, int] | None = None
        last_yield = float("-inf")
        down_since: float | None = None
        attempts = 0
        first = True
        while True:
            events: list[Event] = []
            try:
                parent, child = await asyncio.gather(
                    self._fetch(operation_id), self._fetch_child(known_child)
                )
            except NotFoundApiError:
                yield replace(state, lost=True, done=True), [Event(EventKind.OPERATION_LOST)]
                return
            except BackendUnavailableError as exc:
                now = self._clock()
                attempts += 1
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

            now = self._clock()
            if down_since is not None:
                events.append(Event(EventKind.CONNECTION_RESTORED))
                down_since, attempts = None, 0
            new_child_id = child_id_of(parent)
            if new_child_id != known_child:
                if known_child is not None:
                    events.append(Event(EventKind.CHILD_GONE, known_child))
                child = await self._fetch_child(new_child_id)
                if new_child_id is not None:
                    events.append(Event(EventKind.CHILD_APPEARED, new_child_id))
                known_child = new_child_id
            phase = phase_or_status(parent)
            if first:
                events.insert(0, Event(EventKind.STARTED, phase))
            elif phase != state.phase:
                for passed in _passed_between(state.phase, phase):
                    events.append(Event(EventKind.PHASE_PASSED, passed))
                events.append(Event(EventKind.PHASE_CHANGED, phase))
            first = False
            state = ViewState(
                operation_id=operation_id,
                parent=parent,
                child=child,
                phase=phase,
                received_at=now,
                done=parent.is_terminal,
            )
            versions = (parent.version, child.version if child else 0)
            if parent.is_terminal:
                events.append(Event(EventKind.FINISHED, parent.status.value))
                yield state, events
                return
            if events or versions != last_versions or now - last_yield >= self.tick_interval:
                yield state, events
                last_yield = now
            last_versions = versions
            await self._sleep(self.poll_interval)


def _passed_between(before: str | None, after: str) -> list[str]:
    """The phases a cycle must have gone through to get from ``before`` to ``after``.

    Only a move forward along the happy path (to a later phase, or to completed) implies
    anything: a cycle that failed or was cancelled may have stopped in ``before`` itself,
    so a jump to failed/cancelled (or anything unknown) passes nothing."""
    if before not in RESEARCH_PHASES or after not in RESEARCH_PHASES:
        return []
    start = RESEARCH_PHASES.index(before) + 1
    end = RESEARCH_PHASES.index(after)
    return list(RESEARCH_PHASES[start:end])


def describe_stop(parent: OperationPublic | None, child: OperationPublic | None) -> str:
    """Where a cancelled operation stopped, as a sentence for the user."""
    summary = (parent.result_summary or {}) if parent else {}
    where = summary.get("stopped_at")
    if parent is not None and parent.operation_type is not OperationType.AGENT_RESEARCH:
        child, where = parent, None  # a single job: phrase its own stop like a child's
    if isinstance(where, str) and where:
        text = where if not where[0].islower() else where[0].upper() + where[1:]
        return text.rstrip(".") + "."
    if child is not None:
        child_where = (child.result_summary or {}).get("stopped_at") or child.progress.current_step
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
