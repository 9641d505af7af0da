"""The board of several cycles: what each line says for each state a cycle can be in, and
the plain board's one line per change."""

from __future__ import annotations

import io

from rich.console import Console

from ktrdr.cli.views.board import PlainBoard, board_view, cycle_words
from ktrdr.client.follow import Connection, ViewState
from ktrdr.contract.operations import OperationPublic
from ktrdr.records.models import (
    OperationMetadata,
    OperationProgress,
    OperationStatus,
    OperationType,
)

CYCLE = "op_agent_research_20260101_000000_aaaa1111"


def cycle(status: OperationStatus, **fields: object) -> OperationPublic:
    return OperationPublic(
        operation_id=CYCLE,
        operation_type=OperationType.AGENT_RESEARCH,
        status=status,
        **fields,
    )


def training(pct: float) -> OperationPublic:
    return OperationPublic(
        operation_id="op_training_20260101_000000_bbbb2222",
        operation_type=OperationType.TRAINING,
        status=OperationStatus.RUNNING,
        progress=OperationProgress(percentage=pct, current_step="Epoch 40/100"),
    )


def render(states: list[ViewState]) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(board_view(states, [7] * len(states)))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return str(out)


def test_each_state_of_a_cycle_has_its_words() -> None:
    running = ViewState(CYCLE, parent=cycle(OperationStatus.RUNNING), phase="training")
    assert cycle_words(running) == ("training", "cyan")
    done = cycle(
        OperationStatus.COMPLETED,
        result_summary={"verdict": "promising", "sharpe_ratio": 1.234},
    )
    assert cycle_words(ViewState(CYCLE, parent=done, done=True))[0] == "✓ promising · Sharpe 1.23"
    stopped = cycle(OperationStatus.CANCELLED, result_summary={"stopped_at": "epoch 40/100"})
    words, style = cycle_words(ViewState(CYCLE, parent=stopped, done=True))
    assert words.startswith("cancelled · ") and "40/100" in words and style == "magenta"
    failed = cycle(OperationStatus.FAILED, error_message="Training diverged")
    assert cycle_words(ViewState(CYCLE, parent=failed, done=True))[0] == (
        "✗ failed: Training diverged"
    )
    assert "lost" in cycle_words(ViewState(CYCLE, lost=True, done=True))[0]
    offline = ViewState(CYCLE, connection=Connection(ok=False, attempts=2))
    assert cycle_words(offline) == ("connection lost, retrying...", "yellow")


def test_a_running_cycle_shows_its_childs_bar_and_a_finished_one_its_verdict() -> None:
    running = ViewState(
        CYCLE,
        parent=cycle(
            OperationStatus.RUNNING, metadata=OperationMetadata(parameters={"phase": "training"})
        ),
        child=training(40.0),
        phase="training",
    )
    text = render([running])
    assert "aaaa1111 seed 7" in text and "training" in text
    assert "40% Epoch 40/100" in text and "0/1 finished" in text
    done = ViewState(
        CYCLE,
        parent=cycle(OperationStatus.COMPLETED, result_summary={"verdict": "poor"}),
        child=training(100.0),
        done=True,
    )
    text = render([running, done])
    assert "✓ poor" in text and "1/2 finished" in text
    assert text.count("Epoch 40/100") == 1  # a finished cycle draws no child bar


def test_the_plain_board_prints_a_line_per_change_only() -> None:
    out = io.StringIO()
    board = PlainBoard(Console(file=out, width=200, color_system=None), [7], clock=lambda: 0.0)
    board.update([ViewState(CYCLE)])  # nothing heard yet: nothing to say
    training_state = ViewState(CYCLE, parent=cycle(OperationStatus.RUNNING), phase="training")
    board.update([training_state])
    board.update([training_state])  # the same again: no new line
    board.update([ViewState(CYCLE, parent=cycle(OperationStatus.RUNNING), phase="backtesting")])
    assert out.getvalue().splitlines() == [
        f"{CYCLE} (seed 7): training",
        f"{CYCLE} (seed 7): backtesting",
    ]
