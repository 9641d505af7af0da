"""The follower with a cycle that runs several children at once: which children the state
carries and in what order, the counts of the others, an event for every child appearing
and ending, a yield when any running child moves, and no stall while any child reports.

A scripted backend answers with whole trees; the clock is fake."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from ktrdr.client.follow import (
    Event,
    EventKind,
    Follower,
    ViewState,
    active_child_id,
    read_children,
)
from ktrdr.contract.operations import OperationPublic, TreePublic
from ktrdr.contract.progress import ResearchCycleProgressContext
from tests.support.snapshots import T0, cycle, snapshot


def kid(
    op_id: str,
    pct: float = 0.0,
    *,
    status: str = "running",
    parent: str = "cycle",
    version: int = 1,
    candidate: int = 0,
    fold: int | None = 0,
) -> OperationPublic:
    params: dict[str, object] = {"role": "fold" if fold is not None else "final"}
    params["candidate"] = candidate
    if fold is not None:
        params["fold"] = fold
    op = snapshot(op_id, op_type="training", status=status, pct=pct, params=params, version=version)
    return op.model_copy(update={"parent_operation_id": parent})


def wf_cycle(
    version: int, active: str | None, *, phase: str = "training", status: str = "running"
) -> OperationPublic:
    """A walk-forward cycle: the phase table names ``active`` and so does its context."""
    op = cycle(phase, version, status=status, child=active)
    context = ResearchCycleProgressContext(phase=phase, child_op_id=active, folds=4, candidates=2)
    progress = op.progress.model_copy(update={"context": context.to_dict()})
    return op.model_copy(update={"progress": progress})


def tree(*ops: OperationPublic) -> TreePublic:
    return TreePublic(
        version=sum(op.version for op in ops), complete=True, changes=[], operations=list(ops)
    )


@dataclass
class Backend:
    answers: list[TreePublic | None]
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def fetch(self, op_id: str, since: int, wait: float) -> TreePublic | None:
        del op_id, since
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        self.now += wait if answer is None else 0.1
        return answer


def run(backend: Backend, **kw: float) -> list[tuple[ViewState, list[Event]]]:
    follower = Follower(backend.fetch, clock=backend.clock, sleep=backend.sleep, **kw)

    async def collect() -> list[tuple[ViewState, list[Event]]]:
        out: list[tuple[ViewState, list[Event]]] = []
        async for state, events in follower.follow("cycle"):
            out.append((state, events))
            assert len(out) < 100, "the follower did not stop"
        return out

    return asyncio.run(collect())


def test_running_children_come_least_advanced_first_with_the_active_child_first() -> None:
    answer = tree(
        wf_cycle(5, "t2"),
        kid("t0", 50),
        kid("t1", 10),
        kid("t2", 30),  # the active child, though t1 is behind it
        kid("t3", status="pending"),
        kid("t4", 100, status="completed"),
        kid("t5", 12, status="failed"),
        kid("t6", 40, status="cancelled"),
        kid("t7", status="pending"),
        kid("g0", 5, parent="t0"),  # a grandchild is not the cycle's child
        kid("t8", 10),  # as far as t1: creation order decides
    )
    children = read_children(answer, "t2")
    assert [op.operation_id for op in children.running] == ["t2", "t1", "t8", "t0"]
    assert (children.pending, children.done, children.failed, children.cancelled) == (2, 1, 1, 1)
    assert children.watched == ("t0", "t1", "t2", "t8")
    # A queued active child is watched (and shown) but counted neither running nor waiting.
    queued = read_children(answer, "t3")
    assert [op.operation_id for op in queued.running] == ["t1", "t8", "t2", "t0"]
    assert queued.pending == 1 and queued.watched == ("t0", "t1", "t2", "t8", "t3")
    # An ended cycle waits on nothing; its children are still counted.
    ended = tree(wf_cycle(9, None, phase="completed", status="completed"), kid("t0", 50))
    over = read_children(ended, None)
    assert over.running == () and over.watched == ()


def test_the_active_child_is_the_one_the_context_names_else_the_phase_tables() -> None:
    current = wf_cycle(3, "t2")
    stale = current.metadata.model_copy(
        update={"parameters": {"phase": "training", "training_op_id": "t0"}}
    )
    # Within a phase the context moves on; the phase table's parameter may lag behind.
    assert active_child_id(current.model_copy(update={"metadata": stale})) == "t2"
    assert active_child_id(wf_cycle(3, None)) is None  # the context says no child runs
    assert active_child_id(cycle("training", 3, child="t9")) == "t9"  # no context: the seed's
    assert active_child_id(wf_cycle(3, "t2", phase="completed", status="completed")) is None


def test_every_child_appearing_and_ending_is_an_event_with_the_child() -> None:
    queued = [kid(f"t{i}", status="pending") for i in range(3)]
    running = [kid(f"t{i}", 5 * i, version=2) for i in range(3)]
    backend = Backend(
        [
            tree(wf_cycle(1, "t0"), *queued),
            tree(wf_cycle(2, "t0"), *running),
            tree(wf_cycle(2, "t0"), *running),  # nothing new: no event repeats
            tree(
                wf_cycle(3, "t0"),
                running[0],
                kid("t1", 100, status="completed", version=3),
                running[2],
                kid("t3", 1, version=2),
            ),
            tree(
                wf_cycle(4, None, phase="completed", status="completed"),
                kid("t0", 100, status="completed", version=4),
                kid("t1", 100, status="completed", version=3),
                kid("t2", 100, status="completed", version=4),
                kid("t3", 100, status="completed", version=4),
            ),
        ]
    )
    out = run(backend)
    child_events = [
        [(e.kind.value, e.detail) for e in events if e.kind.value.startswith("child")]
        for _, events in out
    ]
    assert [e for e in child_events if e] == [
        [("child_appeared", "t0")],  # the active child, queued
        [("child_appeared", "t1"), ("child_appeared", "t2")],
        [("child_gone", "t1"), ("child_appeared", "t3")],
        [("child_gone", "t0"), ("child_gone", "t2"), ("child_gone", "t3")],
    ]
    flat = [e for _, events in out for e in events if e.operation is not None]
    gone_t1 = next(e for e in flat if e.kind is EventKind.CHILD_GONE and e.detail == "t1")
    assert gone_t1.operation is not None and gone_t1.operation.status.value == "completed"
    appeared_t0 = next(e for e in flat if e.detail == "t0")
    assert appeared_t0.operation is not None and appeared_t0.operation.status.value == "pending"
    swapped = next(s for s, _ in out if "t3" in s.children.watched)
    assert [op.operation_id for op in swapped.children.running] == ["t0", "t3", "t2"]
    assert swapped.children.done == 1 and swapped.child is not None
    assert out[-1][0].done and out[-1][0].children.done == 4


def test_a_child_other_than_the_active_one_moving_is_news() -> None:
    first = tree(wf_cycle(2, "t0"), kid("t0", 10, version=2), kid("t1", 40, version=2))
    moved = tree(wf_cycle(2, "t0"), kid("t0", 10, version=2), kid("t1", 60, version=3))
    done = tree(wf_cycle(3, None, phase="completed", status="completed"))
    # Ticks far apart: only news makes a yield between the first answer and the end.
    out = run(Backend([first, moved, done]), tick_interval=1000.0)
    seen = [[op.progress.percentage for op in state.children.running] for state, _ in out[:-1]]
    assert seen == [[10.0, 40.0], [10.0, 60.0]]


def reporting(op: OperationPublic, *, elapsed: float, last_report: float) -> OperationPublic:
    return op.model_copy(
        update={
            "elapsed_seconds": elapsed,
            "last_progress_at": T0 + timedelta(seconds=last_report),
        }
    )


def test_any_child_reporting_keeps_the_cycle_from_stalling() -> None:
    parent = reporting(wf_cycle(2, "t0"), elapsed=300.0, last_report=0.0)
    silent = reporting(kid("t0", 10), elapsed=300.0, last_report=0.0)
    busy = reporting(kid("t1", 50), elapsed=300.0, last_report=299.0)
    end = tree(wf_cycle(3, None, phase="completed", status="completed"))

    def first_stall(*ops: OperationPublic) -> float | None:
        out = run(Backend([tree(parent, *ops), end]), stall_seconds=30.0)
        return out[0][0].stalled_for

    assert first_stall(silent, busy) is None  # the active child is slow, not the cycle
    assert first_stall(silent) == 300.0
