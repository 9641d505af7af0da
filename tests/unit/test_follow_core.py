"""The follower, driven by scripted snapshots, a fake clock and a recording sleep.

``Script`` answers the tree request the way a backend does when it can only give state
(``complete`` False, no journal): the parent from its script and the child the parent
names from the children's scripts, in one answer. The journal, 304s and stalls have their
own tests in ``test_follow_tree.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from ktrdr.client.errors import BackendUnavailableError, NotFoundApiError
from ktrdr.client.follow import EventKind, Follower, ViewState, child_id_of, describe_stop
from ktrdr.contract.operations import OperationPublic, TreePublic
from tests.support.snapshots import cycle, snapshot

Step = OperationPublic | Exception | Callable[[], OperationPublic]


class Script:
    """fetch() answers the tree: the parent from a script, its child from a dict of scripts."""

    def __init__(self, parent: list[Step], children: dict[str, list[Step]] | None = None):
        self.parent = parent
        self.children = children or {}
        self.now = 0.0
        self.sleeps: list[float] = []
        self.calls: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def _next(self, op_id: str) -> OperationPublic:
        queue = self.parent if op_id == "cycle" else self.children[op_id]
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(step, Exception):
            raise step
        return step() if callable(step) else step

    async def fetch(self, op_id: str, since: int, wait: float) -> TreePublic:
        del since, wait  # a state-only backend answers at once, whatever the reader saw
        self.calls.append(op_id)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0)  # let a concurrent fetch start before this one ends
        self.in_flight -= 1
        parent = self._next(op_id)
        nodes = [parent]
        child_id = child_id_of(parent)
        if child_id is not None:
            try:
                nodes.append(self._next(child_id))
            except NotFoundApiError:
                pass
        version = sum(op.version for op in nodes)
        return TreePublic(version=version, complete=False, changes=[], operations=nodes)


def run(script: Script, **kw: Any) -> list[tuple[ViewState, list[EventKind]]]:
    follower = Follower(script.fetch, clock=script.clock, sleep=script.sleep, **kw)

    async def collect() -> list[tuple[ViewState, list[EventKind]]]:
        out = []
        async for state, events in follower.follow("cycle"):
            out.append((state, [e.kind for e in events]))
            if len(out) > 200:
                raise AssertionError("follower did not stop")
        return out

    return asyncio.run(collect())


def lost() -> BackendUnavailableError:
    return BackendUnavailableError("connection refused")


def test_backoff_doubles_from_the_poll_interval_up_to_five_seconds_then_restores() -> None:
    script = Script(
        [
            cycle("training", 1),
            *[lost() for _ in range(8)],
            cycle("completed", 2, status="completed"),
        ]
    )
    out = run(script)
    retry_sleeps = script.sleeps[1:9]
    assert retry_sleeps == [0.3, 0.6, 1.2, 2.4, 4.8, 5.0, 5.0, 5.0]
    kinds = [k for _, ks in out for k in ks]
    assert kinds.count(EventKind.CONNECTION_LOST) == 1
    assert kinds.count(EventKind.CONNECTION_RESTORED) == 1
    retrying = [s for s, _ in out if not s.connection.ok]
    assert retrying[0].parent is not None  # the display keeps the last snapshot
    assert [s.connection.attempts for s in retrying] == list(range(1, 9))
    assert out[-1][0].done and EventKind.FINISHED in out[-1][1]


def test_gives_up_after_the_configured_time_without_an_answer() -> None:
    script = Script([cycle("training", 1), lost()])
    out = run(script, give_up_after=20.0)
    final, kinds = out[-1]
    assert final.gave_up and final.done
    assert EventKind.GAVE_UP in kinds
    assert final.connection.down_for >= 20.0
    assert sum(script.sleeps[1:]) < 30


def test_a_404_is_a_lost_operation_and_ends_the_follow() -> None:
    script = Script([cycle("training", 1), NotFoundApiError(404, "operation_not_found", "gone")])
    out = run(script)
    assert out[-1][0].lost
    assert out[-1][1] == [EventKind.OPERATION_LOST]


def test_child_swaps_from_training_to_backtest_and_goes_away() -> None:
    script = Script(
        [
            cycle("designing", 1),
            cycle("training", 2, child="t1"),
            cycle("training", 3, child="t1"),
            cycle("backtesting", 4, child="b1"),
            cycle("assessing", 5),
            cycle("completed", 6, status="completed"),
        ],
        {
            "t1": [snapshot("t1", op_type="training", pct=40, step="Epoch 4/10", version=3)],
            "b1": [snapshot("b1", op_type="backtesting", pct=50, step="Bar 500/1,000")],
        },
    )
    out = run(script)
    by_phase: dict[str | None, tuple[ViewState, list[EventKind]]] = {}
    for state, kinds in out:
        by_phase.setdefault(state.phase, (state, kinds))  # the first view of each phase
    training_state, training_events = by_phase["training"]
    assert training_state.child is not None and training_state.child.operation_id == "t1"
    assert EventKind.CHILD_APPEARED in training_events
    bt_state, bt_events = by_phase["backtesting"]
    assert bt_state.child is not None and bt_state.child.progress.current_step == "Bar 500/1,000"
    assert EventKind.CHILD_GONE in bt_events and EventKind.CHILD_APPEARED in bt_events
    assert by_phase["assessing"][0].child is None
    assert EventKind.CHILD_GONE in by_phase["assessing"][1]


def test_parent_and_child_come_in_one_request_per_answer() -> None:
    script = Script(
        [
            cycle("training", 2, child="t1"),
            cycle("training", 3, child="t1"),
            cycle("completed", 4, status="completed"),
        ],
        {"t1": [snapshot("t1", op_type="training", pct=10, step="Epoch 1/10")]},
    )
    out = run(script)
    # One tree request per answer, none for the child on its own, never two at once.
    assert script.calls == ["cycle", "cycle", "cycle"]
    assert script.max_in_flight == 1
    assert out[0][0].child is not None and out[0][0].child.operation_id == "t1"


def test_skipped_phases_are_reported_in_order() -> None:
    script = Script([cycle("training", 2), cycle("completed", 3, status="completed")])
    out = run(script)
    final_events = out[-1][1]
    assert final_events.count(EventKind.PHASE_PASSED) == 2  # backtesting, assessing
    assert final_events[-1] is EventKind.FINISHED


@pytest.mark.parametrize("before", ["designing", "training", "backtesting"])
@pytest.mark.parametrize("end", ["failed", "cancelled"])
def test_a_cycle_that_stops_early_passes_no_phases(before: str, end: str) -> None:
    script = Script([cycle(before, 2), cycle(end, 3, status=end)])
    out = run(script)
    final_events = out[-1][1]
    assert EventKind.PHASE_PASSED not in final_events
    assert final_events == [EventKind.PHASE_CHANGED, EventKind.FINISHED]


def test_phases_passed_are_only_those_between_on_the_happy_path() -> None:
    script = Script([cycle("designing", 2), cycle("backtesting", 3), cycle("idle", 4)])
    script.parent.append(cycle("completed", 5, status="completed"))
    follower = Follower(script.fetch, clock=script.clock, sleep=script.sleep)

    async def collect() -> list[tuple[EventKind, str | None]]:
        seen: list[tuple[EventKind, str | None]] = []
        async for _, events in follower.follow("cycle"):
            seen += [(e.kind, e.detail) for e in events]
        return seen

    seen = asyncio.run(collect())
    passed = [detail for kind, detail in seen if kind is EventKind.PHASE_PASSED]
    # designing -> backtesting passed training; a move backwards (to idle) passes nothing;
    # idle -> completed passed every phase in between.
    assert passed == ["training", "designing", "training", "backtesting", "assessing"]


def test_unchanged_snapshots_are_not_repeated_but_the_clock_ticks() -> None:
    same = cycle("training", 7)
    script = Script([*[same] * 10, cycle("completed", 8, status="completed")])
    out = run(script)
    # 10 identical polls over 3 s: the first, a tick about every second, and the end.
    assert 3 <= len(out) <= 6


def test_describe_stop_texts() -> None:
    parent = cycle(
        "cancelled",
        9,
        status="cancelled",
        summary={"stopped_at": "Training stopped at epoch 67/100"},
    )
    assert describe_stop(parent, None) == "Training stopped at epoch 67/100."
    bare = cycle("training", 9, status="cancelled")
    child = snapshot(
        "t1",
        op_type="training",
        status="cancelled",
        step="Epoch 12/50",
        summary={"stopped_at": "Epoch 12/50"},
    )
    assert describe_stop(bare, child) == "Training stopped at epoch 12/50."
    bt = snapshot(
        "b1", op_type="backtesting", status="cancelled", summary={"stopped_at": "Bar 2,400/5,000"}
    )
    assert describe_stop(bare, bt) == "Backtest stopped at bar 2,400/5,000."
    designing = cycle("designing", 2, status="cancelled")
    assert describe_stop(designing, None) == "Stopped while designing."


def test_describe_stop_for_a_single_training() -> None:
    op = snapshot(
        "t1",
        op_type="training",
        status="cancelled",
        step="Epoch 67/100",
        summary={"stopped_at": "Epoch 67/100"},
    )
    assert describe_stop(op, None) == "Training stopped at epoch 67/100."
