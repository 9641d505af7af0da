"""Fakes for driving the research worker without real training: one layer at a time.

The scripted launcher runs each child synchronously inside ``submit_*`` (start, a few
progress reports, then the scripted outcome), so a whole cycle runs in the caller's thread
with no timing involved; "cancel" outcomes cancel the *parent* through the real service
while the child runs, exactly as DELETE /operations/{parent} would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ktrdr.agents.design.base import DesignRequest
from ktrdr.errors import StrategyValidationError
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import Operation, OperationType
from ktrdr.strategies.models import IndicatorSpec, StrategyConfig
from tests.support.progress import progress

ChildOutcome = Literal["complete", "fail", "cancel_parent"]
DesignOutcome = Literal["ok", "invalid", "cancel_parent"]


class RecordingStore(InMemoryOperationStore):
    """Keeps every saved version of every operation (use with flush_interval=0)."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Operation]] = {}
        self._history_lock = threading.Lock()

    def save_many(self, operations: Iterable[Operation]) -> None:
        ops = list(operations)
        with self._history_lock:
            for op in ops:
                self.history.setdefault(op.operation_id, []).append(op.model_copy(deep=True))
        super().save_many(ops)


def simple_strategy(name: str = "fake_strategy") -> StrategyConfig:
    return StrategyConfig(
        name=name, indicators=[IndicatorSpec(name="rsi", type="rsi", params={"period": 14})]
    )


@dataclass
class FakeDesigner:
    service: OperationsService
    outcome: DesignOutcome = "ok"
    name: str = "fake"
    parent_id: str = ""
    requests: list[DesignRequest] = field(default_factory=list)

    def design(self, request: DesignRequest, token: CancellationToken) -> StrategyConfig:
        self.requests.append(request)
        if self.outcome == "invalid":
            raise StrategyValidationError("The designer's strategy is invalid: indicators: empty")
        if self.outcome == "cancel_parent":
            self.service.cancel(self.parent_id)
        return simple_strategy(f"fake_{request.seed}")


@dataclass
class ScriptedLauncher:
    service: OperationsService
    training: ChildOutcome = "complete"
    backtest: ChildOutcome = "complete"
    epochs: int = 4
    bars: int = 1000
    parents: dict[str, str] = field(default_factory=dict)

    def create_training(self, strategy: StrategyConfig, parent_operation_id: str) -> str:
        op = self.service.create(
            OperationType.TRAINING,
            parent_operation_id=parent_operation_id,
            parameters={"strategy_name": strategy.name},
        )
        self.parents[op.operation_id] = parent_operation_id
        return op.operation_id

    def submit_training(self, operation_id: str, strategy: StrategyConfig) -> None:
        steps = [(e, f"Epoch {e}/{self.epochs}") for e in range(1, self.epochs + 1)]
        self._run(operation_id, self.training, steps, self.epochs, _TRAINING_SUMMARY)

    def create_backtest(self, training_summary: Mapping[str, Any], parent_operation_id: str) -> str:
        op = self.service.create(
            OperationType.BACKTESTING,
            parent_operation_id=parent_operation_id,
            parameters={"model": training_summary.get("model_path")},
        )
        self.parents[op.operation_id] = parent_operation_id
        return op.operation_id

    def submit_backtest(self, operation_id: str) -> None:
        chunk = self.bars // 4
        steps = [(b, f"Bar {b:,}/{self.bars:,}") for b in range(chunk, self.bars + 1, chunk)]
        self._run(operation_id, self.backtest, steps, self.bars, _BACKTEST_SUMMARY)

    def _run(
        self,
        operation_id: str,
        outcome: ChildOutcome,
        steps: list[tuple[int, str]],
        total: int,
        summary: Mapping[str, Any],
    ) -> None:
        service = self.service
        service.start(operation_id)
        halfway = len(steps) // 2
        for index, (done, label) in enumerate(steps):
            progress(
                service,
                operation_id,
                done / total * 100,
                label,
                items_processed=done,
                items_total=total,
            )
            if index == halfway and outcome == "cancel_parent":
                service.cancel(self.parents[operation_id])
                # The worker in the child notices its token and acknowledges.
                assert service.token(operation_id).is_cancelled
                service.finish_cancelled(operation_id, stopped_at=label)
                return
            if index == halfway and outcome == "fail":
                service.fail(operation_id, "scripted failure: loss diverged")
                return
        service.complete(operation_id, summary)


_TRAINING_SUMMARY: dict[str, Any] = {
    "model_path": "/nonexistent/model",
    "epochs_completed": 4,
    "epochs_total": 4,
    "val_accuracy": 0.55,
    "train_accuracy": 0.6,
    "train_label_counts": {"sell": 30, "hold": 40, "buy": 30},
}
_BACKTEST_SUMMARY: dict[str, Any] = {
    "symbol": "SP500",
    "start": "2014-01-02",
    "end": "2018-12-31",
    "bars": 1000,
    "metrics": {
        "sharpe_ratio": 1.3,
        "total_return": 0.4,
        "max_drawdown": 0.12,
        "win_rate": 0.58,
        "num_trades": 24,
        "profit_factor": 1.6,
        "exposure": 0.5,
    },
}
