"""A training as an operation: the job function and how to launch it (alone or as a child)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ktrdr.data.market import MarketData
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.execution import Executor, Job
from ktrdr.operations.models import OperationType
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.operations.service import OperationsService
from ktrdr.strategies.models import StrategyConfig
from ktrdr.training.engine import train_strategy


@dataclass(frozen=True)
class TrainingJob:
    """A training as a job: plain data, so it can run in a thread or a worker process."""

    strategy: StrategyConfig
    market: MarketData
    models_dir: Path

    def __call__(self, reporter: ProgressReporter, token: CancellationToken) -> Mapping[str, Any]:
        strategy = self.strategy
        reporter.report(ProgressUpdate(0.0, "Loading market data", context={"phase": "loading"}))
        bars = self.market.load(
            strategy.data.symbol,
            strategy.data.timeframe,
            strategy.data.train_start,
            strategy.data.train_end,
        )
        token.raise_if_cancelled(where=f"Epoch 0/{strategy.model.epochs}")
        result = train_strategy(
            strategy, bars, reporter=reporter, token=token, models_dir=self.models_dir
        )
        return result.to_summary()


def training_job(strategy: StrategyConfig, market: MarketData, models_dir: Path) -> Job:
    return TrainingJob(strategy, market, models_dir)


def training_parameters(strategy: StrategyConfig) -> dict[str, Any]:
    return {
        "strategy_name": strategy.name,
        "symbol": strategy.data.symbol,
        "timeframe": strategy.data.timeframe,
        "epochs": strategy.model.epochs,
        "train_start": str(strategy.data.train_start) if strategy.data.train_start else None,
        "train_end": str(strategy.data.train_end),
    }


def create_training(
    service: OperationsService, strategy: StrategyConfig, parent_operation_id: str | None = None
) -> str:
    """Create the (pending) training operation; submit it with ``submit_training``."""
    op = service.create(
        OperationType.TRAINING,
        parent_operation_id=parent_operation_id,
        parameters=training_parameters(strategy),
    )
    return op.operation_id


def submit_training(
    executor: Executor,
    operation_id: str,
    strategy: StrategyConfig,
    market: MarketData,
    models_dir: Path,
) -> None:
    executor.submit(operation_id, training_job(strategy, market, models_dir))
