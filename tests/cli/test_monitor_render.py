"""Renderers drawn into string consoles with a fake clock."""

from __future__ import annotations

import io

from rich.console import Console

from ktrdr.cli.views import LiveRenderer, PlainRenderer, monitor_view
from ktrdr.cli.views.outcomes import outcome_lines
from ktrdr.client.follow import Connection, Event, EventKind, ViewState
from ktrdr.records.models import OperationStatus
from tests.support.snapshots import cycle, snapshot


def render(state: ViewState, now: float = 0.0, cancelling: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=110, color_system=None)
    console.print(monitor_view(state, now, cancelling))
    return out.getvalue()


def training_state(received_at: float = 0.0) -> ViewState:
    return ViewState(
        operation_id="cycle",
        parent=cycle("training", 3, child="t1", elapsed=135.0),
        child=snapshot("t1", op_type="training", pct=45, step="Epoch 45/100", elapsed=92.0),
        phase="training",
        received_at=received_at,
    )


def test_nested_view_shows_parent_step_and_child_with_eta() -> None:
    text = render(training_state(), now=0.0)
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines[0].startswith("🔬 Research Cycle [20%]")
    assert lines[0].endswith("02:15")
    assert lines[1].strip() == "Training model..."
    assert lines[2].strip().startswith("└─ Epoch 45/100 [45%]")
    assert "01:32" in lines[2] and "ETA 01:52" in lines[2]


def test_elapsed_ticks_between_polls_with_the_clock() -> None:
    text = render(training_state(received_at=100.0), now=110.0)
    assert text.splitlines()[0].rstrip().endswith("02:25")


def test_connection_lost_and_cancelling_lines() -> None:
    state = training_state()
    lost = ViewState(**{**state.__dict__, "connection": Connection(ok=False, attempts=2)})
    text = render(lost, cancelling=True)
    assert "⚠ Connection lost, retrying..." in text
    assert "⚠️ Cancelling research cycle..." in text


def test_single_operation_has_one_bar_and_no_child_line() -> None:
    op = snapshot("t1", op_type="training", pct=30, step="Epoch 30/100")
    text = render(ViewState(operation_id="t1", parent=op, phase="running"))
    assert "🧠 Training [30%]" in text and "Epoch 30/100" in text
    assert "└─" not in text


def test_outcome_lines_for_every_ending() -> None:
    done = cycle(
        "completed",
        9,
        status="completed",
        summary={
            "strategy_name": "momentum_x",
            "verdict": "promising",
            "sharpe_ratio": 1.24,
            "win_rate": 0.58,
            "max_drawdown": 0.12,
            "trades": 30,
            "training": {"epochs": 100, "accuracy": 0.55},
            "backtest": {"symbol": "SP500", "start": "2014-01-02", "end": "2018-12-31"},
        },
    )
    texts = [t for t, _ in outcome_lines(ViewState("cycle", parent=done, done=True))]
    assert texts[:4] == [
        "✓ Research cycle complete!",
        "Strategy: momentum_x",
        "Verdict: promising",
        "Sharpe: 1.24 | Win Rate: 58% | Max DD: 12%",
    ]
    failed = cycle("training", 4, status="failed", error="Training failed: loss diverged")
    assert outcome_lines(ViewState("cycle", parent=failed))[0][0] == (
        "✗ Research cycle failed: Training failed: loss diverged"
    )
    cancelled = cycle(
        "training",
        5,
        status="cancelled",
        summary={"stopped_at": "Training stopped at epoch 67/100"},
    )
    assert outcome_lines(ViewState("cycle", parent=cancelled))[0][0] == (
        "✓ Cancelled. Training stopped at epoch 67/100."
    )
    assert outcome_lines(ViewState("cycle", lost=True))[0][0] == (
        "Operation not found — may have been lost due to restart"
    )


def test_plain_renderer_prints_one_line_per_phase_and_per_ten_percent() -> None:
    out = io.StringIO()
    renderer = PlainRenderer(Console(file=out, width=200, color_system=None))
    renderer.update(
        ViewState("cycle", parent=cycle("designing", 1), phase="designing"),
        [Event(EventKind.STARTED, "designing")],
    )
    for i, pct in enumerate([1, 5, 9, 10, 14, 25, 26, 99]):
        child = snapshot("t1", op_type="training", pct=pct, step=f"Epoch {pct}/100", version=i)
        events = [Event(EventKind.PHASE_CHANGED, "training")] if i == 0 else []
        renderer.update(
            ViewState(
                "cycle", parent=cycle("training", 2 + i, child="t1"), child=child, phase="training"
            ),
            events,
        )
    renderer.update(ViewState("cycle", phase="training"), [Event(EventKind.CONNECTION_LOST)])
    lines = out.getvalue().splitlines()
    assert lines == [
        "Research Cycle cycle: running",
        "Phase: Designing strategy... (5%)",
        "Phase: Training model... (20%)",
        "  Training: Epoch 1/100 (1%)",
        "  Training: Epoch 10/100 (10%)",
        "  Training: Epoch 25/100 (25%)",
        "  Training: Epoch 99/100 (99%)",
        "⚠ Connection lost, retrying...",
    ]
    assert "\x1b" not in out.getvalue()


def test_live_renderer_draws_into_one_region_and_prints_the_outcome() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=110, color_system=None)
    renderer = LiveRenderer(console, clock=lambda: 0.0)
    renderer.start()
    renderer.update(training_state())
    renderer.show_cancelling()
    cancelled = cycle(
        "training",
        5,
        status="cancelled",
        summary={"stopped_at": "Training stopped at epoch 45/100"},
    )
    renderer.finish(outcome_lines(ViewState("cycle", parent=cancelled)))
    text = out.getvalue()
    assert "Epoch 45/100" in text
    assert "Cancelling research cycle" in text
    assert text.rstrip().endswith("✓ Cancelled. Training stopped at epoch 45/100.")
    assert "\x1b[?25h" in text  # the cursor is shown again


def test_training_numbers_show_under_the_epoch_bar_while_it_trains() -> None:
    state = training_state()
    assert state.child is not None
    progress = state.child.progress.model_copy(
        update={"context": {"train_loss": 0.9123, "val_loss": 0.95, "val_accuracy": 0.4132}}
    )
    child = state.child.model_copy(update={"progress": progress})
    lines = render(ViewState(**{**state.__dict__, "child": child})).splitlines()
    assert lines[3].strip() == "loss 0.912 · val loss 0.950 · val acc 41%"
    # Nothing to show before the first epoch, nor once the training has ended.
    assert len(render(state).splitlines()) == 3
    done = child.model_copy(update={"status": OperationStatus.COMPLETED})
    assert "val acc" not in render(ViewState(**{**state.__dict__, "child": done}))


def test_plain_single_operation_names_status_changes_and_numbers_but_no_phases() -> None:
    out = io.StringIO()
    renderer = PlainRenderer(Console(file=out, width=200, color_system=None))
    queued = snapshot("t1", op_type="training", status="pending")
    renderer.update(ViewState("t1", parent=queued), [Event(EventKind.STARTED, "pending")])
    running = snapshot("t1", op_type="training", pct=30, step="Epoch 30/100", version=2)
    progress = running.progress.model_copy(update={"context": {"train_loss": 1.0412}})
    running = running.model_copy(update={"progress": progress})
    renderer.update(ViewState("t1", parent=running), [Event(EventKind.PHASE_CHANGED, "running")])
    done = snapshot("t1", op_type="training", status="completed", pct=100, step="Epoch 100/100")
    renderer.update(ViewState("t1", parent=done), [Event(EventKind.PHASE_CHANGED, "completed")])
    assert out.getvalue().splitlines() == [
        "Training t1: pending",
        "Training t1: running",
        "  Epoch 30/100 (30%)  loss 1.041",
    ]


def test_queued_operations_say_they_are_waiting() -> None:
    queued = snapshot("t1", op_type="training", status="pending", elapsed=None)
    text = render(ViewState("t1", parent=queued))
    assert "Queued: waiting for a free worker..." in text
    state = training_state()
    assert state.child is not None
    child = snapshot("t1", op_type="training", status="pending", elapsed=None)
    nested = render(ViewState(**{**state.__dict__, "child": child}))
    assert "└─ Training (queued) [0%]" in nested
