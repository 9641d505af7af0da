"""A research cycle's ETA in every view: the live bar (counting down between answers), the
``--count`` board's batch line, the plain phase line, NDJSON and ``agent status``."""

from __future__ import annotations

import io
import json

from rich.console import Console, RenderableType

from ktrdr.cli.views import NdjsonRenderer, PlainRenderer, monitor_view
from ktrdr.cli.views.agent_status import agent_status_view
from ktrdr.cli.views.board import board_view
from ktrdr.cli.views.eta import approx, batch_eta, eta_text
from ktrdr.client.follow import Event, EventKind, ViewState
from ktrdr.contract.operations import AgentStatusPublic, OperationPublic
from tests.support.snapshots import cycle


def with_eta(
    op: OperationPublic, seconds: float | None, low: float, high: float, overdue: bool = False
) -> OperationPublic:
    return op.model_copy(
        update={"eta_seconds": seconds, "eta_low": low, "eta_high": high, "overdue": overdue}
    )


def text_of(renderable: RenderableType) -> str:
    out = io.StringIO()
    Console(file=out, force_terminal=True, width=120, color_system=None).print(renderable)
    return out.getvalue()


def state(parent: OperationPublic, received_at: float = 0.0, op_id: str = "cycle") -> ViewState:
    return ViewState(operation_id=op_id, parent=parent, phase="training", received_at=received_at)


def test_the_cycles_bar_shows_its_eta_and_counts_it_down() -> None:
    running = with_eta(cycle("training", 3, elapsed=20.0), 45.0, 30.0, 60.0)
    first = text_of(monitor_view(state(running, received_at=100.0), now=100.0)).splitlines()[0]
    later = text_of(monitor_view(state(running, received_at=100.0), now=110.0)).splitlines()[0]
    assert "[20%]" in first and "ETA ~45 s" in first  # the phase table's percentage stays
    assert "[20%]" in later and "ETA ~35 s" in later


def test_no_eta_no_text_and_overdue_said_apart() -> None:
    plain = text_of(monitor_view(state(cycle("training", 3)), now=0.0))
    assert "ETA ~" not in plain and "overdue" not in plain
    late = with_eta(cycle("training", 3), 2.0, 1.0, 4.0, overdue=True)
    assert "ETA ~2 s, overdue" in text_of(monitor_view(state(late), now=0.0))


def test_the_batch_line_says_when_the_last_cycle_should_end() -> None:
    a = state(with_eta(cycle("training", 3), 30.0, 20.0, 40.0), op_id="op_a_1")
    b = state(with_eta(cycle("training", 3), 150.0, 100.0, 200.0), op_id="op_b_2")
    done = state(cycle("completed", 9, status="completed"), op_id="op_c_3")
    assert batch_eta([a, b, done], now=0.0) == 150.0
    footer = text_of(board_view([a, b, done], [1, 2, 3], now=30.0)).splitlines()[-1]
    assert footer.strip() == "0/3 finished · ETA ~2 min"
    unknown = state(cycle("training", 3), op_id="op_d_4")
    assert batch_eta([a, unknown], now=0.0) is None
    assert "ETA" not in text_of(board_view([a, unknown], [1, 4])).splitlines()[-1]


def test_ndjson_lines_carry_the_eta_keys() -> None:
    out = io.StringIO()
    renderer = NdjsonRenderer(out=out, stamp=lambda: "t")
    running = with_eta(cycle("training", 3), 45.0, 30.0, 60.0)
    renderer.update(state(running), [Event(EventKind.STARTED, "training")])
    renderer.update(state(with_eta(cycle("training", 4), 44.0, 29.0, 59.0)), [])  # no line
    renderer.update(state(cycle("backtesting", 5)), [])  # the bar moved: a line, no ETA
    every = [json.loads(line) for line in out.getvalue().splitlines()]
    passed = [x for x in every if x["event"] == "phase" and x.get("passed")]
    assert [x["phase"] for x in passed] == ["designing"]  # over before the first answer
    lines = [x for x in every if x not in passed]
    assert (lines[0]["eta_seconds"], lines[0]["eta_low"], lines[0]["eta_high"]) == (
        45.0,
        30.0,
        60.0,
    )
    assert lines[0]["overdue"] is False
    assert len(lines) == 2  # a new ETA alone writes no line
    assert lines[1]["event"] == "progress" and lines[1]["eta_seconds"] is None


def test_agent_status_shows_the_eta_with_its_interval() -> None:
    running = with_eta(cycle("training", 3), 45.0, 30.0, 60.0)
    shown = text_of(
        agent_status_view(AgentStatusPublic(active=True, phase="training", cycle=running))
    )
    assert "ETA" in shown and "~45 s (30–60 s)" in shown
    bare = text_of(agent_status_view(AgentStatusPublic(active=True, cycle=cycle("training", 3))))
    assert "ETA" not in bare


def test_the_plain_phase_line_carries_the_eta() -> None:
    out = io.StringIO()
    renderer = PlainRenderer(Console(file=out, width=120, color_system=None))
    running = with_eta(cycle("training", 3), 45.0, 30.0, 60.0)
    renderer.update(state(running), [Event(EventKind.STARTED, "training")])
    assert "Phase: Training model... (20%)  ETA ~45 s" in out.getvalue()


def test_estimates_read_at_their_precision() -> None:
    assert [approx(s) for s in (0.4, 45.2, 99.0, 150.0, 3540.0, 4000.0)] == [
        "0 s",
        "45 s",
        "99 s",
        "2 min",
        "59 min",
        "1 h 07 min",
    ]
    ended = with_eta(cycle("completed", 9, status="completed"), 5.0, 1.0, 9.0, overdue=True)
    assert eta_text(ended) is None  # an ended cycle has nothing left to say
