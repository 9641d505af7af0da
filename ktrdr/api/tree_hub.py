"""Held tree reads, many to a tree: one watch on the change feed per watched tree, fanned
out on the event loop.

Every progress report of a running training changes its tree. With a watch per held read,
each report made the reporting thread signal every reader across threads, and woke each
reader to copy and check the whole tree, only to find progress it answers at most every
``PROGRESS_COALESCE_SECONDS`` anyway: 500 readers of one training cost seconds of latency
(``benchmarks/watchers.py``). Here:

- the feed calls one ``wake`` per watched tree, which schedules at most one fan-out on the
  loop at a time, however many reports arrive meanwhile;
- the fan-out asks the service once per distinct ``since`` whether anything beyond
  progress changed (``tree_status``: no copy of the tree), and wakes a reader that already
  holds progress back only for that;
- answers are rendered once per (tree, since, version) and shared by every reader that
  asks for the same one within ``SHARED_ANSWER_SECONDS``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.datastructures import State

from ktrdr.operations.service import OperationsService

# Progress goes to one reader at most every PROGRESS_COALESCE_SECONDS; with more readers of
# one tree than this, the period grows with their number, so that a tree's progress answers
# stay near READERS_AT_FULL_RATE / PROGRESS_COALESCE_SECONDS a second however many watch it
# (500 readers of one training: a progress answer each about every 1.4 s). Status, phase and
# children still go to everyone at once.
PROGRESS_COALESCE_SECONDS = 0.1
READERS_AT_FULL_RATE = 40
# A shared answer's elapsed times may be this old (it is otherwise the same bytes).
SHARED_ANSWER_SECONDS = 0.5
SHARED_ANSWERS_KEPT = 64


@dataclass(eq=False)
class Waiter:
    """One held read: the version it last saw, and whether it holds progress back already
    (then only more than progress wakes it; its own timer answers the progress)."""

    since: int
    woke: asyncio.Event = field(default_factory=asyncio.Event)
    holding_progress: bool = False


@dataclass(eq=False)
class _Room:
    waiters: set[Waiter] = field(default_factory=set)
    unwatch: Callable[[], None] | None = None
    scheduled: bool = False


class TreeHub:
    def __init__(self, service: OperationsService, loop: asyncio.AbstractEventLoop) -> None:
        self._service = service
        self._loop = loop
        self._rooms: dict[str, _Room] = {}
        self._answers: OrderedDict[tuple[str, int, int], tuple[float, int, bytes]] = OrderedDict()

    @contextmanager
    def waiting(self, operation_id: str, since: int) -> Iterator[Waiter]:
        """A reader of ``operation_id``'s tree, woken by changes until it leaves. Joined
        before the reader looks at the tree, so no change between the two is missed."""
        room = self._rooms.get(operation_id)
        if room is None:
            room = _Room()
            # Raises OperationNotFoundError for an unknown id, before anything is kept.
            room.unwatch = self._service.watch(operation_id, self._waker(operation_id, room))
            self._rooms[operation_id] = room
        waiter = Waiter(since)
        room.waiters.add(waiter)
        try:
            yield waiter
        finally:
            room.waiters.discard(waiter)
            if not room.waiters and self._rooms.get(operation_id) is room:
                del self._rooms[operation_id]
                if room.unwatch is not None:
                    room.unwatch()

    def _waker(self, operation_id: str, room: _Room) -> Callable[[], None]:
        def wake() -> None:  # any thread, under the service lock: only signal
            if room.scheduled:
                return
            room.scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._fan_out, operation_id, room)
            except RuntimeError:
                pass  # the loop is gone (shutting down): nobody to wake

        return wake

    def _fan_out(self, operation_id: str, room: _Room) -> None:
        room.scheduled = False  # a report from now on schedules another fan-out
        significant: dict[int, bool] = {}
        for waiter in list(room.waiters):
            if not waiter.holding_progress:
                waiter.woke.set()
                continue
            if waiter.since not in significant:
                try:
                    significant[waiter.since] = self._service.tree_status(
                        operation_id, waiter.since
                    )[1]
                except Exception:  # noqa: BLE001 - the reader's own read will say what is wrong
                    significant[waiter.since] = True
            if significant[waiter.since]:
                waiter.woke.set()

    def shared_answer(
        self, key: tuple[str, int, int], render: Callable[[], tuple[int, bytes]]
    ) -> tuple[int, bytes]:
        """The answer for (tree, since, version seen), rendered once for every reader that
        asks: (the version it shows, which may be newer, and its bytes)."""
        now = time.monotonic()
        kept = self._answers.get(key)
        if kept is not None and now - kept[0] <= SHARED_ANSWER_SECONDS:
            return kept[1], kept[2]
        version, body = render()
        self._answers[key] = (now, version, body)
        self._answers.move_to_end(key)
        while len(self._answers) > SHARED_ANSWERS_KEPT:
            self._answers.popitem(last=False)
        return version, body

    def progress_delay(self, operation_id: str) -> float:
        """How long a reader of ``operation_id`` holds progress back: the coalescing period,
        longer with many readers, drawn over half a period more so that the readers of one
        tree answer spread out instead of all in one burst."""
        room = self._rooms.get(operation_id)
        readers = len(room.waiters) if room is not None else 1
        period = PROGRESS_COALESCE_SECONDS * max(1.0, readers / READERS_AT_FULL_RATE)
        return period * random.uniform(1.0, 1.5)  # noqa: S311 - spreading load, not a secret

    def held(self) -> int:
        """How many reads are held now, over every tree."""
        return sum(len(room.waiters) for room in list(self._rooms.values()))


def tree_hub(state: State, service: OperationsService) -> TreeHub:
    """The app's hub on the running event loop (made on first use)."""
    loop = asyncio.get_running_loop()
    hub: TreeHub | None = getattr(state, "tree_hub", None)
    if hub is None or hub._loop is not loop:  # noqa: SLF001 - a new loop (tests) needs a new hub
        hub = TreeHub(service, loop)
        state.tree_hub = hub
    return hub


def held_reads(state: State) -> int:
    """The app's held tree reads (0 before the first)."""
    hub: TreeHub | None = getattr(state, "tree_hub", None)
    return 0 if hub is None else hub.held()
