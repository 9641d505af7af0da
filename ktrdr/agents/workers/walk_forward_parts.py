"""The seam between a walk-forward cycle and the backend: the launcher that creates and
submits its children and reads what they produced, and the parts the cycle works with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ktrdr.agents.design.base import DesignRequest, StrategyDesigner
from ktrdr.data.bars import TimeArray
from ktrdr.errors import OperationFinishedError
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation
from ktrdr.research.evaluation import PeriodReturns
from ktrdr.strategies.models import StrategyConfig


@runtime_checkable
class WalkForwardLauncher(Protocol):
    """Creates and submits the cycle's children and reads what they produced
    (``ktrdr.jobs.cycles`` has the backend's own; tests script one)."""

    def bar_times(self, symbol: str, timeframe: str) -> TimeArray: ...

    def create_training(
        self, strategy: StrategyConfig, parent_operation_id: str, parameters: dict[str, object]
    ) -> str: ...

    def submit_training(self, operation_id: str, strategy: StrategyConfig) -> None: ...

    def create_fold_backtest(
        self,
        training: Operation,
        parent_operation_id: str,
        cost_multiplier: float,
        parameters: dict[str, object],
    ) -> str: ...

    def submit_backtest(self, operation_id: str) -> None: ...

    def period_returns(self, backtest: Operation) -> PeriodReturns: ...

    def earlier_trials(self, trial_key: str) -> list[float]: ...


@dataclass(frozen=True)
class WorkerParts:
    """What the walk-forward work needs from the worker around it."""

    service: OperationsService
    designer: StrategyDesigner
    launcher: WalkForwardLauncher

    @property
    def designer_name(self) -> str:
        return self.designer.name

    def design(self, request: DesignRequest, token: CancellationToken) -> StrategyConfig:
        design = self.designer.design(request, token)
        return StrategyConfig.model_validate(design.model_dump())

    def bar_times(self, symbol: str, timeframe: str) -> TimeArray:
        return self.launcher.bar_times(symbol, timeframe)

    def create_training(
        self, strategy: StrategyConfig, parent: str, parameters: dict[str, object]
    ) -> str:
        return self.launcher.create_training(strategy, parent, parameters)

    def submit_training(self, operation_id: str, strategy: StrategyConfig) -> None:
        self.launcher.submit_training(operation_id, strategy)

    def create_backtest(
        self, training: Operation, parent: str, multiplier: float, parameters: dict[str, object]
    ) -> str:
        return self.launcher.create_fold_backtest(training, parent, multiplier, parameters)

    def submit_backtest(self, operation_id: str) -> None:
        self.launcher.submit_backtest(operation_id)

    def period_returns(self, backtest: Operation) -> PeriodReturns:
        return self.launcher.period_returns(backtest)

    def earlier_trials(self, trial_key: str) -> list[float]:
        return self.launcher.earlier_trials(trial_key)

    def cancel_child(self, operation_id: str, reason: str) -> None:
        try:
            self.service.cancel(operation_id, reason)
        except OperationFinishedError:  # it ended meanwhile: nothing to stop
            return
