"""Build OperationPublic snapshots for follower and renderer tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ktrdr.contract.operations import OperationPublic
from ktrdr.records.models import OperationProgress, OperationStatus, OperationType

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def snapshot(
    op_id: str = "cycle",
    *,
    op_type: str = "agent_research",
    status: str = "running",
    pct: float = 0.0,
    step: str | None = None,
    params: dict[str, Any] | None = None,
    version: int = 1,
    items: tuple[int, int] | None = None,
    summary: dict[str, Any] | None = None,
    error: str | None = None,
    elapsed: float | None = 10.0,
) -> OperationPublic:
    return OperationPublic(
        operation_id=op_id,
        operation_type=OperationType(op_type),
        status=OperationStatus(status),
        created_at=T0,
        started_at=T0,
        updated_at=T0,
        progress=OperationProgress(
            percentage=pct,
            current_step=step,
            items_processed=items[0] if items else None,
            items_total=items[1] if items else None,
        ),
        metadata={"parameters": params or {}},
        result_summary=summary,
        error_message=error,
        version=version,
        elapsed_seconds=elapsed,
    )


def cycle(
    phase: str, version: int, *, status: str = "running", child: str | None = None, **kw: Any
) -> OperationPublic:
    pct = {
        "idle": 0,
        "designing": 5,
        "training": 20,
        "backtesting": 65,
        "assessing": 90,
        "completed": 100,
    }.get(phase, 20)
    params: dict[str, Any] = {"phase": phase}
    if child and phase == "training":
        params["training_op_id"] = child
    if child and phase == "backtesting":
        params["backtest_op_id"] = child
    steps = {
        "designing": "Designing strategy...",
        "training": "Training model...",
        "backtesting": "Backtesting...",
        "assessing": "Assessing results...",
        "completed": "Complete",
    }
    return snapshot(
        "cycle",
        status=status,
        pct=kw.pop("pct", pct),
        step=steps.get(phase),
        params=params,
        version=version,
        **kw,
    )
