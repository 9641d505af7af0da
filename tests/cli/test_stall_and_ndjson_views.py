"""The stall notice and the NDJSON view, drawn from scripted view states; the seed's
transcripts (cancel notice above the outcome, a set-off summary, a lost connection in the
step line's place) from the live renderer into a string terminal."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console

from ktrdr.cli.views import LiveRenderer, NdjsonRenderer, PlainRenderer, monitor_view
from ktrdr.cli.views.ndjson import EVENT_NAMES, REQUIRED_KEYS
from ktrdr.cli.views.outcomes import outcome_lines
from ktrdr.client.follow import Connection, Event, EventKind, ViewState
from tests.support.snapshots import cycle, snapshot


def render(state: ViewState, cancelling: bool = False) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=110, color_system=None)
    console.print(monitor_view(state, 0.0, cancelling))
    return [line.rstrip() for line in out.getvalue().splitlines()]


def training_cycle(**kw: Any) -> ViewState:
    return ViewState(
        operation_id="cycle",
        parent=cycle("training", 3, child="t1"),
        child=snapshot("t1", op_type="training", pct=45, step="Epoch 45/100", version=9),
        phase="training",
        **kw,
    )


def test_live_view_shows_the_stall_under_the_step_line_and_drops_it_when_clear() -> None:
    lines = render(training_cycle(stalled_for=45.4))
    assert lines[1] == "   Training model..."
    assert lines[2] == "   ⚠ No progress for 45 s"
    assert lines[3].lstrip().startswith("└─ Epoch 45/100")
    assert not any("No progress" in line for line in render(training_cycle()))
    single = ViewState(
        "t1",
        parent=snapshot("t1", op_type="training", pct=30, step="Epoch 30/100"),
        stalled_for=185.0,
    )
    assert render(single)[1:3] == ["   Epoch 30/100", "   ⚠ No progress for 3 min 05 s"]


def test_a_lost_connection_takes_the_step_lines_place_under_the_cycle_bar() -> None:
    lines = render(training_cycle(connection=Connection(ok=False, attempts=1), stalled_for=50))
    assert lines[0].startswith("🔬 Research Cycle [20%]")
    assert lines[1] == "   ⚠ Connection lost, retrying..."
    assert "Training model..." not in "\n".join(lines)
    assert lines[2].lstrip().startswith("└─ Epoch 45/100")  # the last child bar stays
    assert not any("No progress" in line for line in lines)  # unknown while disconnected


def live_transcript(final: ViewState, *, cancel: bool) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=110, color_system=None)
    renderer = LiveRenderer(console, clock=lambda: 0.0)
    renderer.start()
    renderer.update(training_cycle())
    if cancel:
        renderer.show_cancelling()
    renderer.update(final)
    renderer.finish(outcome_lines(final, interrupted=cancel))
    # What the terminal keeps: the last frame (after rich's last line erase) and what
    # was printed under it, without the cursor show/hide codes.
    kept = out.getvalue().rsplit("\x1b[2K", 1)[-1]
    for code in ("\x1b[?25l", "\x1b[?25h", "\r"):
        kept = kept.replace(code, "")
    return [line.rstrip() for line in kept.splitlines()]


def test_after_ctrl_c_the_cancel_notice_stays_above_the_cancelled_line() -> None:
    cancelled = ViewState(
        "cycle",
        parent=cycle(
            "training",
            5,
            status="cancelled",
            summary={"stopped_at": "Training stopped at epoch 45/100"},
        ),
        phase="training",
        done=True,
    )
    tail = live_transcript(cancelled, cancel=True)
    assert tail[-2:] == [
        "⚠️ Cancelling research cycle...",
        "✓ Cancelled. Training stopped at epoch 45/100.",
    ]
    job = snapshot("t1", op_type="training", status="running", pct=30, step="Epoch 30/100")
    assert render(ViewState("t1", parent=job), cancelling=True)[-1] == "⚠️ Cancelling training..."
    bt = snapshot("b1", op_type="backtesting", pct=30, step="Bar 30/100")
    assert render(ViewState("b1", parent=bt), cancelling=True)[-1] == "⚠️ Cancelling backtest..."


def test_a_completion_summary_follows_a_blank_line_indented_three_spaces() -> None:
    done = ViewState(
        "cycle",
        parent=cycle(
            "completed",
            9,
            status="completed",
            summary={"strategy_name": "momentum_x", "verdict": "promising", "trades": 30},
        ),
        phase="completed",
        done=True,
    )
    tail = live_transcript(done, cancel=False)
    start = tail.index("✓ Research cycle complete!")
    assert tail[start - 1] == ""
    assert tail[start - 2].startswith("   Phase: Complete")
    details = tail[start + 1 :]
    assert details[:2] == ["   Strategy: momentum_x", "   Verdict: promising"]
    assert all(line.startswith("   ") and not line.startswith("    ") for line in details)


def test_plain_view_prints_one_line_when_stalled_and_one_when_resumed() -> None:
    out = io.StringIO()
    renderer = PlainRenderer(Console(file=out, width=200, color_system=None))
    job = snapshot("t1", op_type="training", pct=30, step="Epoch 30/100")
    renderer.update(ViewState("t1", parent=job), [Event(EventKind.STARTED, "running")])
    renderer.update(ViewState("t1", parent=job, stalled_for=31.0), [Event(EventKind.STALLED)])
    for seconds in (32.0, 33.0, 47.0):  # ticks while stalled: nothing new to say
        renderer.update(ViewState("t1", parent=job, stalled_for=seconds))
    renderer.update(ViewState("t1", parent=job), [Event(EventKind.STALL_CLEARED)])
    assert out.getvalue().splitlines() == [
        "Training t1: running",
        "  Epoch 30/100 (30%)",
        "⚠ No progress for 31 s",
        "Progress resumed after 47 s without a report",
    ]


def ndjson_lines(updates: list[tuple[ViewState, list[Event]]], cancel_after: int = -1) -> list[Any]:
    out, err = io.StringIO(), io.StringIO()
    renderer = NdjsonRenderer(out=out, err=err, stamp=lambda: "2026-01-01T00:00:00.000Z")
    renderer.start()
    for i, (state, events) in enumerate(updates):
        renderer.update(state, events)
        if i == cancel_after:
            renderer.show_cancelling()
    renderer.stop()
    renderer.finish([("unused", "")])
    assert err.getvalue() == ""
    text = out.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]  # every line is one object


def test_ndjson_writes_one_object_per_change_with_the_required_keys() -> None:
    designing = ViewState("cycle", parent=cycle("designing", 1), phase="designing")
    training = training_cycle()
    epoch = ViewState(
        **{
            **training.__dict__,
            "child": snapshot("t1", op_type="training", pct=46, step="Epoch 46/100", version=10),
        }
    )
    done = ViewState(
        "cycle",
        parent=cycle("completed", 9, status="completed", summary={"verdict": "promising"}),
        phase="completed",
        done=True,
    )
    lines = ndjson_lines(
        [
            (designing, [Event(EventKind.STARTED, "designing")]),
            (designing, []),  # a tick: nothing changed, nothing written
            (
                training,
                [Event(EventKind.CHILD_APPEARED, "t1"), Event(EventKind.PHASE_CHANGED, "training")],
            ),
            (epoch, []),
            (epoch, []),
            (ViewState(**{**epoch.__dict__, "stalled_for": 30.2}), [Event(EventKind.STALLED)]),
            (epoch, [Event(EventKind.STALL_CLEARED)]),
            (
                ViewState(**{**epoch.__dict__, "connection": Connection(ok=False)}),
                [Event(EventKind.CONNECTION_LOST, "refused")],
            ),
            (epoch, [Event(EventKind.CONNECTION_RESTORED)]),
            (
                done,
                [
                    Event(EventKind.CHILD_GONE, "t1"),
                    Event(EventKind.PHASE_PASSED, "backtesting"),
                    Event(EventKind.PHASE_PASSED, "assessing"),
                    Event(EventKind.PHASE_CHANGED, "completed"),
                    Event(EventKind.FINISHED, "completed"),
                ],
            ),
        ]
    )
    for line in lines:
        assert set(REQUIRED_KEYS) <= set(line), line
        assert line["event"] in EVENT_NAMES
        assert line["operation_id"] == "cycle" and line["ts"] == "2026-01-01T00:00:00.000Z"
    assert [line["event"] for line in lines] == [
        "started",
        "child",
        "phase",
        "progress",
        "stalled",
        "resumed",
        "connection_lost",
        "connection_restored",
        "child",
        "phase",
        "phase",
        "completed",
    ]
    assert lines[1]["child"] == {
        "operation_id": "t1",
        "operation_type": "training",
        "status": "running",
        "percentage": 45.0,
        "step": "Epoch 45/100",
    }
    assert lines[2]["phase"] == "training" and lines[2]["percentage"] == 20.0
    assert lines[3]["child"]["step"] == "Epoch 46/100"
    assert lines[4]["stalled_for"] == 30.2
    assert [line["phase"] for line in lines[9:11]] == ["backtesting", "assessing"]
    assert lines[9]["passed"] is True
    assert lines[-1]["result_summary"] == {"verdict": "promising"}
    assert lines[-1]["status"] == "completed" and lines[-1]["percentage"] == 100.0


def test_ndjson_cancel_and_lost() -> None:
    job = snapshot("t1", op_type="training", pct=30, step="Epoch 30/100")
    stopped = snapshot(
        "t1",
        op_type="training",
        status="cancelled",
        pct=31,
        summary={"stopped_at": "Epoch 31/100"},
        version=3,
    )
    lines = ndjson_lines(
        [
            (ViewState("t1", parent=job, phase="running"), [Event(EventKind.STARTED)]),
            (
                ViewState("t1", parent=stopped, phase="cancelled", done=True),
                [Event(EventKind.PHASE_CHANGED, "cancelled"), Event(EventKind.FINISHED)],
            ),
        ],
        cancel_after=0,
    )
    assert [line["event"] for line in lines] == ["started", "cancelling", "cancelled"]
    assert lines[-1]["stopped"] == "Training stopped at epoch 31/100."
    lost = ndjson_lines(
        [(ViewState("t1", lost=True, done=True), [Event(EventKind.OPERATION_LOST)])]
    )
    assert [line["event"] for line in lost] == ["lost"]
    assert lost[0]["status"] is None and lost[0]["child"] is None


def test_ndjson_names_the_phases_a_cycle_passed_before_the_first_answer() -> None:
    """A cycle first seen in training (designing took less than one answer's time) still
    gets its designing line, marked passed, before the lines of what it does now."""
    parent = cycle("completed", 9, status="completed", summary={"verdict": "poor"})
    done = ViewState("cycle", parent=parent, phase="completed", done=True)
    end = (done, [Event(EventKind.FINISHED, "completed")])
    lines = ndjson_lines([(training_cycle(), [Event(EventKind.STARTED, "training")]), end])
    assert [(x["event"], x["phase"], x.get("passed")) for x in lines[:2]] == [
        ("started", "training", None),
        ("phase", "designing", True),
    ]
    # A cycle that failed while designing passed nothing; one that failed in backtesting
    # had passed designing and training.
    for phase, passed in (("designing", []), ("backtesting", ["designing", "training"])):
        failed = ViewState("cycle", parent=cycle(phase, 3, status="failed"), phase=phase)
        lines = ndjson_lines([(failed, [Event(EventKind.STARTED, phase)]), end])
        assert [x["phase"] for x in lines if x["event"] == "phase"] == passed
