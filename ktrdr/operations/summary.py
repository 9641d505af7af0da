"""The listing projection: what a list of operations shows, without each operation's body.

A listing (``ops list``, ``agent results``, ``agent status``) needs a few columns per
operation, not its whole result and parameters; at hundreds of thousands of operations the
difference is the whole cost of the read. The store keeps these columns beside the body so
a listing never parses a body; the full operation is read only for one operation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from ktrdr.operations.models import Operation, OperationStatus, OperationType

# A listing never carries more of an error message than this.
SUMMARY_ERROR_CHARS = 200

Scalar = str | int | float | bool | None


class OperationSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    parent_operation_id: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime
    percentage: float = 0.0
    current_step: str | None = None
    phase: str | None = None  # a research cycle's phase; None for other kinds
    verdict: str | None = None  # a completed research cycle's verdict
    # A few result numbers that listings show side by side (see ``headline_of``).
    headline: dict[str, Scalar] = {}
    error_message: str | None = None
    cancel_requested: bool = False
    version: int = 1

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


def _scalar(value: Any) -> Scalar:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return None


def _pick(source: Mapping[str, Any], *keys: str) -> dict[str, Scalar]:
    return {key: _scalar(source.get(key)) for key in keys if source.get(key) is not None}


def headline_of(op: Operation) -> dict[str, Scalar]:
    """The handful of result numbers a listing shows for ``op``'s kind."""
    result: Mapping[str, Any] = op.result_summary or {}
    params = op.metadata.parameters
    headline: dict[str, Scalar] = {}
    name = result.get("strategy_name") or params.get("strategy_name")
    if name is not None:
        headline["strategy_name"] = _scalar(name)
    if op.operation_type is OperationType.AGENT_RESEARCH:
        headline.update(
            _pick(
                result,
                "sharpe_ratio",
                "total_return",
                "max_drawdown",
                "win_rate",
                "trades",
                "score",
            )
        )
        benchmark = result.get("benchmark")
        if isinstance(benchmark, Mapping):
            for key in ("sharpe_ratio", "total_return"):
                if benchmark.get(key) is not None:
                    headline[f"benchmark_{key}"] = _scalar(benchmark[key])
        for key in ("seed", "designer", "symbol"):
            if params.get(key) is not None:
                headline[key] = _scalar(params[key])
    elif op.operation_type is OperationType.TRAINING:
        headline.update(_pick(result, "val_accuracy", "val_loss", "epochs_completed"))
    else:
        metrics = result.get("metrics")
        if isinstance(metrics, Mapping):
            headline.update(_pick(metrics, "sharpe_ratio", "total_return", "num_trades"))
    stopped = result.get("stopped_at")
    if op.status is OperationStatus.CANCELLED and stopped is not None:
        headline["stopped_at"] = _scalar(stopped)
    return headline


def summarize(op: Operation) -> OperationSummary:
    phase = op.metadata.parameters.get("phase")
    verdict = (op.result_summary or {}).get("verdict")
    error = op.error_message
    if error is not None and len(error) > SUMMARY_ERROR_CHARS:
        error = error[: SUMMARY_ERROR_CHARS - 1] + "…"
    return OperationSummary(
        operation_id=op.operation_id,
        operation_type=op.operation_type,
        status=op.status,
        parent_operation_id=op.parent_operation_id,
        created_at=op.created_at,
        started_at=op.started_at,
        completed_at=op.completed_at,
        updated_at=op.updated_at,
        percentage=op.progress.percentage,
        current_step=op.progress.current_step,
        phase=str(phase) if isinstance(phase, str) and phase else None,
        verdict=str(verdict) if isinstance(verdict, str) else None,
        headline=headline_of(op),
        error_message=error,
        cancel_requested=op.cancel_requested,
        version=op.version,
    )
