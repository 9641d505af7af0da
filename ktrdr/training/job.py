"""A training as a job: load the bars, train, return the summary the engine made.

Turning a request into such a job is ``ktrdr.jobs.training``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ktrdr.data.market import MarketData
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.records.contexts import TrainingProgressContext
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
        loading = TrainingProgressContext(phase="loading").to_dict()
        reporter.report(ProgressUpdate(0.0, "Loading market data", context=loading))
        bars = self.market.load(
            strategy.data.symbol,
            strategy.data.timeframe,
            strategy.data.train_start,
            strategy.data.train_end,
        )
        token.raise_if_cancelled(where=f"Epoch 0/{strategy.model.epochs:,}")
        summary = train_strategy(
            strategy, bars, reporter=reporter, token=token, models_dir=self.models_dir
        )
        return summary.to_dict()
