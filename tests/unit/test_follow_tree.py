"""The follower on the tree long-poll: the journal of changes names the phases that passed
between answers, a 304 is the tick, stalls start and clear, and a lost connection backs
off and comes back. A scripted backend answers; the clock is fake and moves by the time a
held request would take."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from ktrdr.client.errors import BackendUnavailableError
from ktrdr.client.follow import Event, EventKind, Follower, ViewState
from ktrdr.config import load_settings
from ktrdr.contract.operations import ChangePublic, OperationPublic, TreePublic
from ktrdr.errors import ConfigurationError
from tests.support.snapshots import T0, cycle, snapshot

Answer = TreePublic | None | Exception


@dataclass
class TreeBackend:
    """Answers tree requests from a script. A 304 (None) takes the whole wait, a tree takes
    ``answer_seconds``; the requests' (since, wait) are recorded."""

    answers: list[Answer]
    answer_seconds: float = 0.1
    now: float = 0.0
    requests: list[tuple[int, float]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def fetch(self, op_id: str, since: int, wait: float) -> TreePublic | None:
        assert op_id == "cycle" or op_id == "t1"
        self.requests.append((since, wait))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        self.now += wait if answer is None else self.answer_seconds
        return answer


def tree(
    version: int, *ops: OperationPublic, changes: Sequence[tuple[str, str, str]] = ()
) -> TreePublic:
    return TreePublic(
        version=version,
        complete=True,
        changes=[
            ChangePublic(tree_version=version, operation_id=op, kind=kind, value=value, at=T0)
            for op, kind, value in changes
        ],
        operations=list(ops),
    )


def reporting(op: OperationPublic, *, elapsed: float, last_report: float) -> OperationPublic:
    """``op`` as served ``elapsed`` seconds after it started, its last report at
    ``last_report`` seconds after the start (server clock)."""
    return op.model_copy(
        update={
            "elapsed_seconds": elapsed,
            "last_progress_at": T0 + timedelta(seconds=last_report),
        }
    )


def run(
    backend: TreeBackend, times: list[float] | None = None, **kw: Any
) -> list[tuple[ViewState, list[Event]]]:
    """Every (state, events) yielded; ``times`` gets the fake clock at each yield."""
    follower = Follower(backend.fetch, clock=backend.clock, sleep=backend.sleep, **kw)

    async def collect() -> list[tuple[ViewState, list[Event]]]:
        out: list[tuple[ViewState, list[Event]]] = []
        async for state, events in follower.follow("cycle"):
            out.append((state, events))
            if times is not None:
                times.append(backend.now)
            if len(out) > 300:
                raise AssertionError("follower did not stop")
        return out

    return asyncio.run(collect())


def kinds(out: list[tuple[ViewState, list[Event]]]) -> list[tuple[EventKind, str]]:
    return [(e.kind, e.detail) for _, events in out for e in events]


def test_the_journal_names_the_phases_that_came_and_went_between_answers() -> None:
    backend = TreeBackend(
        [
            tree(2, cycle("designing", 2), changes=[("cycle", "phase", "designing")]),
            tree(
                9,
                cycle("backtesting", 6, child="b1"),
                snapshot("t1", op_type="training", status="completed", pct=100, version=2),
                snapshot("b1", op_type="backtesting", pct=5, version=1),
                changes=[
                    ("cycle", "phase", "training"),
                    ("t1", "created", "training"),
                    ("cycle", "phase", "backtesting"),
                ],
            ),
            tree(12, cycle("completed", 9, status="completed")),
        ]
    )
    out = run(backend)
    seen = kinds(out)
    assert seen[0] == (EventKind.STARTED, "designing")
    assert seen[1:4] == [
        (EventKind.CHILD_APPEARED, "b1"),
        (EventKind.PHASE_PASSED, "training"),
        (EventKind.PHASE_CHANGED, "backtesting"),
    ]
    backtesting = out[1][0]
    assert backtesting.child is not None and backtesting.child.operation_id == "b1"
    # Each request carries the version last seen, and the short wait after news.
    assert backtesting.phase == "backtesting"
    assert backtesting.child.progress.percentage == 5
    assert backend.requests == [(0, 2.0), (2, 2.0), (9, 2.0)]
    assert backend.sleeps == []  # a long-poll needs no sleeping between requests


def test_the_journal_beats_guessing_both_ways() -> None:
    # training -> cancelled: guessing passes nothing, but the journal saw backtesting.
    backend = TreeBackend(
        [
            tree(3, cycle("training", 3)),
            tree(
                6,
                cycle("cancelled", 6, status="cancelled"),
                changes=[
                    ("cycle", "phase", "backtesting"),
                    ("cycle", "status", "cancelled"),
                    ("cycle", "phase", "cancelled"),
                ],
            ),
        ]
    )
    passed = [d for k, d in kinds(run(backend)) if k is EventKind.PHASE_PASSED]
    assert passed == ["backtesting"]
    # designing -> completed with a journal that names only assessing: not the whole path.
    backend = TreeBackend(
        [
            tree(2, cycle("designing", 2)),
            tree(
                5,
                cycle("completed", 5, status="completed"),
                changes=[("cycle", "phase", "assessing"), ("cycle", "phase", "completed")],
            ),
        ]
    )
    passed = [d for k, d in kinds(run(backend)) if k is EventKind.PHASE_PASSED]
    assert passed == ["assessing"]


def test_a_304_is_the_tick_and_repeats_the_last_state() -> None:
    running = tree(4, snapshot("cycle", op_type="training", pct=40, version=4))
    done = tree(5, snapshot("cycle", op_type="training", status="completed", pct=100, version=5))
    backend = TreeBackend([running, None, None, None, done])
    out = run(backend, min_wait=1.0, max_wait=1.0)
    assert len(out) == 5  # the first answer, one tick per 304, the end
    ticks = out[1:4]
    assert all(events == [] for _, events in ticks)
    assert [s.parent.version for s, _ in ticks if s.parent] == [4, 4, 4]
    assert [s.received_at for s, _ in ticks] == [0.1, 0.1, 0.1]  # the snapshot's own time
    assert backend.requests == [(0, 1.0), (4, 1.0), (4, 1.0), (4, 1.0), (4, 1.0)]
    assert out[-1][0].done and out[-1][1][-1].kind is EventKind.FINISHED


def test_the_wait_doubles_while_nothing_changes_and_is_short_again_after_news() -> None:
    running = tree(4, snapshot("cycle", op_type="training", pct=40, version=4))
    moved = tree(5, snapshot("cycle", op_type="training", pct=50, version=5))
    done = tree(6, snapshot("cycle", op_type="training", status="completed", version=6))
    backend = TreeBackend([running, *[None] * 6, moved, None, done])
    run(backend)
    waits = [wait for _, wait in backend.requests]
    assert waits == [2.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 2.0, 4.0]
    # Standing still for ten minutes costs about two requests a minute.
    assert 600 / 30.0 / 10 == 2.0


def test_the_clocks_tick_and_a_stall_shows_while_a_request_is_held() -> None:
    """Real time: the backend holds the second request for 1.3 s, as a long-poll does."""
    started = time.monotonic()
    op = reporting(
        snapshot("cycle", op_type="training", pct=40, version=4), elapsed=30.0, last_report=29.5
    )

    async def fetch(op_id: str, since: int, wait: float) -> TreePublic | None:
        del op_id, wait
        if since == 0:
            return tree(4, op)
        await asyncio.sleep(1.3)
        return tree(5, snapshot("cycle", op_type="training", status="completed", version=5))

    async def collect() -> list[tuple[float, ViewState, list[Event]]]:
        follower = Follower(fetch, tick_interval=0.2, stall_seconds=1.0)
        return [
            (time.monotonic() - started, state, events)
            async for state, events in follower.follow("cycle")
        ]

    out = asyncio.run(collect())
    held = [(at, state) for at, state, _ in out[1:-1]]
    assert len(held) >= 4, out  # ticks every 0.2 s while the request was held
    assert all(state.parent is not None and state.parent.version == 4 for _, state in held)
    stalled = [events for _, _, events in out if any(e.kind is EventKind.STALLED for e in events)]
    assert len(stalled) == 1  # 0.5 s old when seen, over the 1 s threshold half a second later
    assert out[-1][1].done


def test_a_stall_shows_after_the_threshold_and_clears_when_progress_resumes() -> None:
    base = snapshot("cycle", op_type="training", pct=40, version=4)
    # Attached 10 s after the last report (server clock); then nothing for a while.
    first = tree(4, reporting(base, elapsed=70.0, last_report=60.0))
    resumed = tree(
        5, reporting(base.model_copy(update={"version": 5}), elapsed=95.0, last_report=95.0)
    )
    done = tree(6, snapshot("cycle", op_type="training", status="completed", version=6))
    backend = TreeBackend([first, *[None] * 25, resumed, None, done])
    times: list[float] = []
    # One-second waits: this fake clock only moves with answers (no ticks while held).
    out = run(backend, times, stall_seconds=20.0, min_wait=1.0, max_wait=1.0)
    seen = kinds(out)
    assert [k for k, _ in seen].count(EventKind.STALLED) == 1
    assert [k for k, _ in seen].count(EventKind.STALL_CLEARED) == 1
    stalled_at = next(i for i, (_, ev) in enumerate(out) if ev and ev[0].kind is EventKind.STALLED)
    state = out[stalled_at][0]
    assert state.stalled_for is not None and 20.0 <= state.stalled_for < 21.0
    # 10 s old when first seen: the notice comes after 10 more seconds, not 20.
    assert 10.0 <= times[stalled_at] - times[0] <= 11.0
    # It keeps counting while stalled, and the state after progress resumed is clear.
    later = [s.stalled_for for s, _ in out[stalled_at:] if s.stalled_for is not None]
    assert later == sorted(later) and later[-1] > 30.0
    cleared = next(s for s, ev in out if any(e.kind is EventKind.STALL_CLEARED for e in ev))
    assert cleared.stalled_for is None and cleared.parent is not None
    assert out[-1][0].done


def test_a_cycle_whose_child_reports_is_not_stalled() -> None:
    parent = reporting(cycle("training", 3, child="t1"), elapsed=300.0, last_report=0.0)
    child = reporting(
        snapshot("t1", op_type="training", pct=50, version=40), elapsed=290.0, last_report=289.0
    )
    queued = snapshot("t1", op_type="training", status="pending", version=1, elapsed=None)
    # Its child just ended and the cycle has not moved on yet: the end is the latest news.
    just_done = snapshot("t1", op_type="training", status="completed", pct=100, version=41)
    just_done = just_done.model_copy(
        update={
            "completed_at": T0 + timedelta(seconds=299),
            "last_progress_at": T0 + timedelta(seconds=250),
        }
    )
    for kid in (child, queued, just_done):  # none of these is a stall
        backend = TreeBackend([tree(43, parent, kid), None, None])
        follower = Follower(backend.fetch, clock=backend.clock, sleep=backend.sleep)

        async def first_states(f: Follower = follower) -> list[ViewState]:
            states = []
            async for state, _ in f.follow("cycle"):
                states.append(state)
                if len(states) == 3:
                    break
            return states

        states = asyncio.run(first_states())
        assert [s.stalled_for for s in states] == [None, None, None]
    # The parent alone, 300 s since its last report: stalled from the first answer.
    backend = TreeBackend([tree(3, reporting(cycle("designing", 3), elapsed=300, last_report=0))])
    follower = Follower(backend.fetch, clock=backend.clock, sleep=backend.sleep)

    async def first() -> tuple[ViewState, list[Event]]:
        async for state, events in follower.follow("cycle"):
            return state, events
        raise AssertionError("nothing yielded")

    state, events = asyncio.run(first())
    assert state.stalled_for == 300.0
    assert [e.kind for e in events] == [EventKind.STARTED, EventKind.STALLED]


def test_connection_lost_backs_off_and_a_304_restores_it() -> None:
    lost = BackendUnavailableError("connection refused")
    running = tree(4, snapshot("cycle", op_type="training", pct=40, version=4))
    done = tree(5, snapshot("cycle", op_type="training", status="completed", version=5))
    backend = TreeBackend([running, *[lost] * 7, None, done])
    out = run(backend)
    assert backend.sleeps == [0.3, 0.6, 1.2, 2.4, 4.8, 5.0, 5.0]
    seen = [k for k, _ in kinds(out)]
    assert seen.count(EventKind.CONNECTION_LOST) == 1
    assert seen.count(EventKind.CONNECTION_RESTORED) == 1
    retrying = [s for s, _ in out if not s.connection.ok]
    assert [s.connection.attempts for s in retrying] == list(range(1, 8))
    assert all(s.parent is not None for s in retrying)  # the last state stays on screen
    restored_state, restored_events = next(
        (s, ev) for s, ev in out if any(e.kind is EventKind.CONNECTION_RESTORED for e in ev)
    )
    assert restored_state.connection.ok and restored_state.parent is not None
    # After the outage the follower asks from the version it had seen, with the short
    # wait (then, after the 304, a doubled one).
    assert [since for since, _ in backend.requests[1:]] == [4] * 9
    assert backend.requests[-2:] == [(4, 2.0), (4, 4.0)]
    assert restored_events[0].kind is EventKind.CONNECTION_RESTORED


def test_the_stall_threshold_is_a_positive_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().stall_seconds == 30.0
    monkeypatch.setenv("KTRDR_STALL_SECONDS", "2.5")
    assert load_settings().stall_seconds == 2.5
    for bad in ("0", "-1", "soon"):
        monkeypatch.setenv("KTRDR_STALL_SECONDS", bad)
        with pytest.raises(ConfigurationError, match="KTRDR_STALL_SECONDS"):
            load_settings()
