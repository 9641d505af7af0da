"""The monitor when a cycle runs several children at once: a bar per running child (six at
most, the rest counted), one plain line per child starting and ending, NDJSON with every
child's events and a ``children`` list, and ``(+k)`` on the board. One child at a time (the
classic cycle) keeps its layout to the character.

The last test follows a cycle with eight running children over real HTTP: an in-process
server whose service the test drives, the real session, follower and client."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import Console

from ktrdr.cli.monitor import MonitorSession
from ktrdr.cli.output import EXIT_OK
from ktrdr.cli.views import NdjsonRenderer, PlainRenderer, monitor_view
from ktrdr.cli.views.board import board_view
from ktrdr.cli.views.ndjson import REQUIRED_KEYS
from ktrdr.cli.views.outcomes import OutcomeLine
from ktrdr.client.follow import Children, Event, EventKind, ViewState, read_children
from ktrdr.contract.operations import OperationPublic, TreePublic
from ktrdr.contract.progress import ResearchCycleProgressContext
from ktrdr.records.models import OperationType
from tests.support.progress import report
from tests.support.served import served_in_process
from tests.support.snapshots import cycle, snapshot


def kid(
    op_id: str,
    pct: float,
    *,
    status: str = "running",
    op_type: str = "training",
    candidate: int = 0,
    fold: int | None = 0,
    version: int = 1,
) -> OperationPublic:
    params: dict[str, object] = {"role": "fold", "candidate": candidate, "fold": fold}
    op = snapshot(
        op_id,
        op_type=op_type,
        status=status,
        pct=pct,
        step=f"Epoch {pct:.0f}/100" if status == "running" else None,
        params=params,
        version=version,
        elapsed=50.0,
    )
    return op.model_copy(update={"parent_operation_id": "cycle"})


def state_of(active: str | None, *kids: OperationPublic, version: int = 3) -> ViewState:
    """The view state the follower builds from a tree of the cycle and ``kids``."""
    parent = cycle("training", version, child=active, elapsed=135.0)
    tree = TreePublic(version=version, complete=True, changes=[], operations=[parent, *kids])
    child = next((op for op in kids if op.operation_id == active), None)
    return ViewState(
        "cycle",
        parent=parent,
        child=child,
        phase="training",
        children=read_children(tree, active),
    )


def render(state: ViewState) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    console.print(monitor_view(state, 0.0))
    return [line.rstrip() for line in out.getvalue().splitlines()]


def test_one_child_at_a_time_keeps_the_seed_layout() -> None:
    seed_child = snapshot("t1", op_type="training", pct=45, step="Epoch 45/100", elapsed=92.0)
    seed_child = seed_child.model_copy(update={"parent_operation_id": "cycle"})
    done = snapshot("t0", op_type="backtesting", status="completed", pct=100)
    state = state_of("t1", done.model_copy(update={"parent_operation_id": "cycle"}), seed_child)
    assert state.children.done == 1 and len(state.children.running) == 1
    assert render(state) == [
        "🔬 Research Cycle [20%]      ━━━━━━━                              02:15",
        "   Training model...",
        "   └─ Epoch 45/100 [45%]     ━━━━━━━━━━━━━━━━                     01:32  ETA 01:52",
    ]
    # The same as drawn from a state that knows nothing of other children (the seed's).
    assert render(ViewState(**{**state.__dict__, "children": Children()})) == render(state)


def test_three_running_children_get_three_lines_least_advanced_first() -> None:
    state = state_of(
        "b",
        kid("a", 60, candidate=0, fold=1),
        kid("b", 20, candidate=1, fold=2),  # the active child
        kid("c", 10, op_type="backtesting", candidate=2, fold=0),
    )
    lines = render(state)
    children = [line.strip() for line in lines if "└─" in line]
    assert [line.split(" [")[0] for line in children] == [
        "└─ Training c2 f3 · Epoch 20/100",
        "└─ Backtest c3 f1 · Epoch 10/100",
        "└─ Training c1 f2 · Epoch 60/100",
    ]
    assert len(lines) == 5  # nothing else ran or waits: no count line
    # Bars line up whatever the labels: every bar starts in the same column.
    assert len({cell_len(line[: line.index("━")]) for line in lines if "━" in line}) == 1


def test_nine_running_children_show_six_lines_and_count_the_rest() -> None:
    running = [kid(f"r{i}", 5.0 * (9 - i), candidate=i % 3, fold=i % 4) for i in range(9)]
    waiting = [kid(f"w{i}", 0, status="pending") for i in range(4)]
    ended = [kid("d0", 100, status="completed"), kid("d1", 100, status="completed")]
    state = state_of("r4", *running, *waiting, *ended, kid("f0", 30, status="failed"))
    lines = render(state)
    children = [line for line in lines if "└─" in line]
    assert len(children) == 6
    assert "[25%]" in children[0]  # the active child first, then the least advanced
    assert "[5%]" in children[1] and "[10%]" in children[2]
    assert lines[-1].strip() == "+3 more running · 2 done · 1 failed · 4 waiting"


def test_the_active_childs_epoch_figures_sit_under_its_own_bar() -> None:
    active = kid("b", 20, candidate=1, fold=2)
    progress = active.progress.model_copy(update={"context": {"val_loss": 0.5}})
    state = state_of("b", kid("a", 60), active.model_copy(update={"progress": progress}))
    lines = render(state)
    assert "Training c2 f3" in lines[2] and lines[3].strip() == "val loss 0.500"
    assert "Training c1 f1" in lines[4]


def test_one_walk_forward_child_with_others_waiting_is_named_and_counted() -> None:
    state = state_of("a", kid("a", 30, candidate=3, fold=None), kid("w", 0, status="pending"))
    lines = render(state)
    assert lines[2].strip().startswith("└─ Training c4 · Epoch 30/100 [30%]")
    assert lines[3].strip() == "0 done · 1 waiting"


def plain_lines(updates: Sequence[tuple[ViewState, list[Event]]]) -> list[str]:
    out = io.StringIO()
    renderer = PlainRenderer(Console(file=out, width=200, color_system=None))
    for state, events in updates:
        renderer.update(state, events)
    return out.getvalue().splitlines()


def appeared(*ops: OperationPublic) -> list[Event]:
    return [Event(EventKind.CHILD_APPEARED, op.operation_id, op) for op in ops]


def test_plain_view_says_each_child_starting_and_ending_once() -> None:
    a, b = kid("a", 10, candidate=0, fold=0), kid("b", 20, candidate=0, fold=1)
    first = state_of("a", a, b)
    later = state_of("a", kid("a", 35), kid("b", 90, fold=1, version=2))
    b_done = kid("b", 100, status="completed", fold=1, version=3)
    end = state_of("a", kid("a", 40), b_done)
    lines = plain_lines(
        [
            (first, appeared(a, b)),
            (later, []),
            (later, []),
            (end, [Event(EventKind.CHILD_GONE, "b", b_done)]),
        ]
    )
    assert lines == [
        "  Training c1 f1: started (a)",
        "  Training c1 f2: started (b)",
        "  Training c1 f1: Epoch 10/100 (10%)",
        "  Training c1 f1: Epoch 35/100 (35%)",  # progress lines: the active child's only
        "  Training c1 f2: completed (b)",
        "  Training c1 f1: Epoch 40/100 (40%)",
    ]
    # A classic cycle's one child says nothing when it appears: its phase line says it.
    seed = snapshot("t1", op_type="training", pct=5, step="Epoch 5/100")
    alone = ViewState("cycle", parent=cycle("training", 2, child="t1"), child=seed)
    assert plain_lines([(alone, [Event(EventKind.CHILD_APPEARED, "t1")])]) == [
        "  Training: Epoch 5/100 (5%)"
    ]


def ndjson(updates: Sequence[tuple[ViewState, list[Event]]]) -> list[dict[str, Any]]:
    out = io.StringIO()
    renderer = NdjsonRenderer(out=out, err=io.StringIO(), stamp=lambda: "T")
    for state, events in updates:
        renderer.update(state, events)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_ndjson_names_every_child_that_appears_and_lists_the_running_ones() -> None:
    a, b = kid("a", 10, candidate=1, fold=2), kid("b", 30, candidate=0, fold=None)
    moved = state_of("a", a, kid("b", 50, candidate=0, fold=None, version=2))
    lines = ndjson([(state_of("a", a, b), appeared(a, b)), (moved, [])])
    assert [line["event"] for line in lines] == ["child", "child", "progress"]
    assert all(set(REQUIRED_KEYS) <= set(line) for line in lines)
    assert [line["subject"]["operation_id"] for line in lines[:2]] == ["a", "b"]
    assert all(line["child"]["operation_id"] == "a" for line in lines)  # still the active one
    assert lines[-1]["children"] == [
        {
            "operation_id": "a",
            "operation_type": "training",
            "status": "running",
            "percentage": 10.0,
            "step": "Epoch 10/100",
            "role": "fold",
            "fold": 2,
            "candidate": 1,
        },
        {
            "operation_id": "b",
            "operation_type": "training",
            "status": "running",
            "percentage": 50.0,
            "step": "Epoch 50/100",
            "role": "fold",
            "fold": None,
            "candidate": 0,
        },
    ]


def test_the_board_shows_the_active_childs_bar_and_how_many_others_run() -> None:
    state = state_of("b", kid("a", 60), kid("b", 20), kid("c", 40))
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(board_view([state], [7]))
    line = console.file.getvalue().splitlines()[0]  # type: ignore[attr-defined]
    assert line.rstrip().endswith("20% Epoch 20/100 (+2)")


class Recorder:
    """The NDJSON renderer, and every state the follower yielded; it says when it saw
    ``until`` children running at once."""

    def __init__(self, until: int) -> None:
        self.out = io.StringIO()
        self.ndjson = NdjsonRenderer(out=self.out, err=io.StringIO())
        self.states: list[ViewState] = []
        self.until = until
        self.saw_all = threading.Event()

    def start(self) -> None:
        self.ndjson.start()

    def update(self, state: ViewState, events: Sequence[Event] = ()) -> None:
        self.states.append(state)
        self.ndjson.update(state, events)
        running = state.children.running
        # All of them, each with its first report (a start and its report are two changes).
        if len(running) >= self.until and all(op.progress.current_step for op in running):
            self.saw_all.set()

    def show_cancelling(self) -> None:
        self.ndjson.show_cancelling()

    def note(self, text: str) -> None:
        self.ndjson.note(text)

    def stop(self) -> None:
        self.ndjson.stop()

    def finish(self, lines: Sequence[OutcomeLine]) -> None:
        self.ndjson.finish(lines)


def test_eight_running_children_over_real_http(tmp_path: Path) -> None:
    recorder = Recorder(until=8)
    with served_in_process(tmp_path / "data") as server:
        service = server.service
        cycle_id = service.create(OperationType.AGENT_RESEARCH).operation_id
        service.start(cycle_id)
        report(service, cycle_id, 5, "Designing strategy...", parameters={"phase": "designing"})
        kids = [
            service.create(
                OperationType.TRAINING,
                parent_operation_id=cycle_id,
                parameters={"role": "fold", "candidate": i // 4, "fold": i % 4},
            ).operation_id
            for i in range(10)
        ]
        running, waiting = kids[:8], kids[8:]
        errors: list[BaseException] = []

        def drive() -> None:
            try:
                context = ResearchCycleProgressContext(
                    phase="training", child_op_id=running[7], child_op_ids=tuple(kids)
                )
                report(
                    service,
                    cycle_id,
                    20,
                    "Training model...",
                    context=context.to_dict(),
                    parameters={"phase": "training", "training_op_id": running[7]},
                )
                for i, op_id in enumerate(running):
                    service.start(op_id)
                    report(service, op_id, 80 - 10 * i, f"Epoch {8 - i}/10")
                assert recorder.saw_all.wait(20), "the follower never saw all eight run"
                for op_id in running:
                    service.complete(op_id, {"epochs_completed": 10})
                    time.sleep(0.05)
                for op_id in waiting:
                    service.cancel(op_id, "not needed")
                service.complete(
                    cycle_id, {"verdict": "neutral"}, parameters={"phase": "completed"}
                )
            except BaseException as exc:  # the test thread reports it
                errors.append(exc)

        driver = threading.Thread(target=drive)
        session = MonitorSession(server.base_url, cycle_id, recorder, give_up_after=20.0)

        async def both() -> int:
            watching = asyncio.ensure_future(session.run())
            await asyncio.sleep(0.3)  # the follower has its first answer before work starts
            driver.start()
            return await watching

        code = asyncio.run(asyncio.wait_for(both(), timeout=40))
        driver.join(10)
    assert not errors, errors
    assert code == EXIT_OK
    lines = [json.loads(line) for line in recorder.out.getvalue().splitlines()]
    changes = [
        (line["change"], line["subject"]["operation_id"])
        for line in lines
        if line["event"] == "child"
    ]
    for op_id in running:  # each appeared once, then went once
        assert [c for c, i in changes if i == op_id] == ["appeared", "gone"], (op_id, changes)
    full = [line for line in lines if len(line["children"]) == 8][-1]
    # The active child first (the least advanced), then by progress.
    assert [c["operation_id"] for c in full["children"]] == [running[7], *running[6::-1]]
    assert full["children"][0]["percentage"] == 10.0
    assert {(c["candidate"], c["fold"]) for c in full["children"]} == {
        (i // 4, i % 4) for i in range(8)
    }
    assert lines[-1]["event"] == "completed"
    # The live view of the busiest moment: six bars, the rest counted.
    busiest = [s for s in recorder.states if len(s.children.running) == 8][-1]
    drawn = render(busiest)
    assert sum("└─" in line for line in drawn) == 6
    assert drawn[-1].strip() == "+2 more running · 0 done · 2 waiting"
