"""A training as a job: load the bars, train, return the summary.

Turning a request into such a job is ``ktrdr.jobs.training``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ktrdr.data.market import MarketData
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.contexts import TrainingProgressContext
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.operations.results import EpochFigures, TrainingSummary
from ktrdr.strategies.models import StrategyConfig
from ktrdr.training.engine import TrainingResult, train_strategy


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
        token.raise_if_cancelled(where=f"Epoch 0/{strategy.model.epochs}")
        result = train_strategy(
            strategy, bars, reporter=reporter, token=token, models_dir=self.models_dir
        )
        return training_summary(result).to_dict()


def training_summary(result: TrainingResult) -> TrainingSummary:
    """What the training operation keeps as its result (the keys of ``result.to_summary()``)."""
    return TrainingSummary(
        strategy_name=result.strategy_name,
        model_path=str(result.model_path),
        epochs_completed=result.epochs_completed,
        epochs_total=result.epochs_total,
        train_loss=result.train_loss,
        val_loss=result.val_loss,
        train_accuracy=result.train_accuracy,
        val_accuracy=result.val_accuracy,
        train_samples=result.train_samples,
        val_samples=result.val_samples,
        feature_names=result.feature_names,
        train_range=result.train_range,
        val_range=result.val_range,
        train_label_counts=dict(result.train_label_counts),
        history=tuple(
            EpochFigures(
                epoch=stats.epoch,
                train_loss=stats.train_loss,
                val_loss=stats.val_loss,
                train_accuracy=stats.train_accuracy,
                val_accuracy=stats.val_accuracy,
            )
            for stats in result.history
        ),
        best_epoch=result.best_epoch,
        stopped_epoch=result.stopped_epoch,
        stopped_early=result.stopped_early,
        best_val_loss=result.best_val_loss,
        final_val_loss=result.final_val_loss,
    )
