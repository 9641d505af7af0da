"""What `agent status` and a watched operation's end show, read through the typed records:
the phase trail comes from the phase table, and a figure an old row lacks is a dash."""

from __future__ import annotations

import io

from rich.console import Console

from ktrdr.agents.phases import ACTIVE_PHASES
from ktrdr.cli.views.agent_status import agent_status_view, phase_trail
from ktrdr.cli.views.outcomes import completed_lines
from ktrdr.contract.operations import AgentStatusPublic, OperationPublic
from ktrdr.records.models import OperationProgress
from tests.support.snapshots import cycle, snapshot


def render(renderable: object) -> str:
    out = io.StringIO()
    Console(file=out, width=140, color_system=None).print(renderable)
    return out.getvalue()


def with_context(op: OperationPublic, **context: object) -> OperationPublic:
    progress = OperationProgress(
        percentage=op.progress.percentage, current_step=op.progress.current_step, context=context
    )
    return op.model_copy(update={"progress": progress})


def test_the_trail_follows_the_phase_table() -> None:
    running = cycle("training", 3, child="op_t")
    assert phase_trail(running) == "✓ designing → ▶ training → backtesting → assessing"
    done = cycle("completed", 9, status="completed")
    assert phase_trail(done) == " → ".join(f"✓ {p.value}" for p in ACTIVE_PHASES)
    assert phase_trail(cycle("idle", 1)) == " → ".join(p.value for p in ACTIVE_PHASES)
    assert phase_trail(cycle("dreaming", 1)) is None
    assert phase_trail(snapshot("t", op_type="training", params={"phase": "training"})) is None


def test_a_cancelled_cycle_marks_the_phase_it_stopped_in() -> None:
    cancelled = with_context(
        cycle("cancelled", 7, status="cancelled", summary={"phase": "backtesting"}),
        phase="backtesting",
        child_op_id="op_b",
    )
    assert phase_trail(cancelled) == "✓ designing → ✓ training → ✗ backtesting → assessing"


def test_agent_status_shows_the_trail_and_a_dash_for_figures_an_old_row_lacks() -> None:
    done = cycle("completed", 9, status="completed", summary={"verdict": "poor"})
    text = render(agent_status_view(AgentStatusPublic(active=False, phase="completed", cycle=done)))
    assert "✓ designing → ✓ training → ✓ backtesting → ✓ assessing" in text
    assert "Verdict: poor | Sharpe: - | Win Rate: - | Max DD: -" in text
    stopped = cycle(
        "cancelled", 7, status="cancelled", summary={"stopped_at": "Training stopped at 3/10"}
    )
    text = render(agent_status_view(AgentStatusPublic(active=False, cycle=stopped)))
    assert "Cancelled: Training stopped at 3/10" in text


def test_completed_lines_read_each_kind_and_never_print_none() -> None:
    training = snapshot(
        "t",
        op_type="training",
        status="completed",
        summary={"epochs_completed": 4, "epochs_total": 4, "val_accuracy": "odd"},
    )
    lines = [text for text, _ in completed_lines(training)]
    assert lines[1] == "Epochs: 4/4 | Val accuracy: - | Val loss: -"
    assert lines[2] == "Model: -"
    backtest = snapshot(
        "b",
        op_type="backtesting",
        status="completed",
        summary={"metrics": {"sharpe_ratio": 1.25, "num_trades": 9}, "symbol": "SP500"},
    )
    lines = [text for text, _ in completed_lines(backtest)]
    assert lines[1].startswith("Sharpe: 1.25 | Return: - ") and lines[1].endswith("Trades: 9")
    assert len(lines) == 3  # no benchmark line when the row has no benchmark
    research = snapshot("c", status="completed", summary={"strategy_name": "s"})
    lines = [text for text, _ in completed_lines(research)]
    assert lines[1:3] == ["Strategy: s", "Verdict: -"]
    assert not any("None" in line for line in lines)


def test_agent_status_marks_each_reason_with_the_outcome_the_backend_recorded() -> None:
    reasons = ["Sharpe 0.10 < 0.25", "caution: PBO 0.62", "24 trades ≥ 10", "total return +1.0%"]
    summary = {"verdict": "poor", "reasons": reasons}
    done = cycle(
        "completed",
        9,
        status="completed",
        summary={**summary, "reason_outcomes": ["failed", "caution", "passed", "recap"]},
    )
    lines = render(agent_status_view(AgentStatusPublic(active=False, cycle=done))).splitlines()
    assert "  ✗ Sharpe 0.10 < 0.25" in lines
    assert "  ! caution: PBO 0.62" in lines
    assert "  ✓ 24 trades ≥ 10" in lines
    assert "  • total return +1.0%" in lines
    old = cycle("completed", 9, status="completed", summary=summary)  # saved before outcomes
    lines = render(agent_status_view(AgentStatusPublic(active=False, cycle=old))).splitlines()
    assert "  • Sharpe 0.10 < 0.25" in lines
