"""The `--count` board's layout: bars keep their column when a row reaches its verdict, a
child that has not reported yet says so instead of a bare 0%, and rows name strategies."""

from __future__ import annotations

import io

from rich.console import Console

from ktrdr.cli.views.board import board_view
from ktrdr.client.follow import ViewState
from ktrdr.contract.operations import OperationPublic
from ktrdr.records.models import (
    OperationMetadata,
    OperationProgress,
    OperationStatus,
    OperationType,
)

BAR_CHARS = "━╸╺"


def cycle(op_id: str, status: OperationStatus, **fields: object) -> OperationPublic:
    return OperationPublic(
        operation_id=op_id, operation_type=OperationType.AGENT_RESEARCH, status=status, **fields
    )


def child(kind: OperationType, pct: float, step: str | None) -> OperationPublic:
    return OperationPublic(
        operation_id=f"op_{kind.value}_20260101_000000_cccc3333",
        operation_type=kind,
        status=OperationStatus.RUNNING,
        progress=OperationProgress(percentage=pct, current_step=step),
    )


RUNNING = ViewState(
    "op_agent_research_20260101_000000_aaaa1111",
    parent=cycle(
        "op_agent_research_20260101_000000_aaaa1111",
        OperationStatus.RUNNING,
        metadata=OperationMetadata(parameters={"phase": "training", "strategy_name": "rsi_x"}),
    ),
    child=child(OperationType.TRAINING, 40.0, "Epoch 40/100"),
    phase="training",
)
OTHER_ID = "op_agent_research_20260101_000000_bbbb2222"


def lines(states: list[ViewState]) -> list[str]:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(board_view(states, [7, 12][: len(states)]))
    return str(console.file.getvalue()).splitlines()  # type: ignore[attr-defined]


def bar_column(line: str) -> int:
    return min(line.index(char) for char in BAR_CHARS if char in line)


def test_a_verdict_moves_no_bar() -> None:
    other_running = ViewState(
        OTHER_ID,
        parent=cycle(OTHER_ID, OperationStatus.RUNNING),
        child=child(OperationType.TRAINING, 90.0, "Epoch 90/100"),
        phase="assessing",
    )
    other_done = ViewState(
        OTHER_ID,
        parent=cycle(
            OTHER_ID,
            OperationStatus.COMPLETED,
            result_summary={"verdict": "promising but fragile", "sharpe_ratio": 1.234},
        ),
        done=True,
    )
    before, after = lines([RUNNING, other_running]), lines([RUNNING, other_done])
    assert "✓ promising but fragile · Sharpe 1.23" in after[1]
    assert bar_column(before[0]) == bar_column(after[0])
    # The outcome starts where a running row's step starts: after the bar, not in its place.
    assert after[1].index("✓") == before[0].index(" 40%")  # the step is right-aligned


def test_a_child_without_a_step_yet_says_it_is_starting() -> None:
    backtesting = ViewState(
        RUNNING.operation_id,
        parent=RUNNING.parent,
        child=child(OperationType.BACKTESTING, 0.0, None),
        phase="backtesting",
    )
    (row, _footer) = lines([backtesting])
    assert "Backtest starting" in row
    assert " 0%" not in row


def test_rows_name_the_designed_strategy() -> None:
    undesigned = ViewState(OTHER_ID, parent=cycle(OTHER_ID, OperationStatus.RUNNING))
    first, second, _footer = lines([RUNNING, undesigned])
    assert "aaaa1111 seed 7 " in first and "rsi_x" in first
    assert "bbbb2222 seed 12" in second and "rsi_x" not in second
