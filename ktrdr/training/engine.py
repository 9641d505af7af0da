"""The training engine: an MLP classifier trained epoch by epoch, reporting and cancellable.

Each epoch shuffles the training rows (seeded, so runs repeat) and feeds them to
``partial_fit`` in blocks; the cancellation token is checked between blocks, so a cancel
takes effect within one block (milliseconds), not one epoch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier

from ktrdr.data.bars import Bars, FloatArray
from ktrdr.errors import JobFailedError
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.contexts import TrainingProgressContext
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.strategies.models import StrategyConfig
from ktrdr.training.dataset import CLASSES, Dataset, LabelArray, build_dataset
from ktrdr.training.model_store import save_model

# Rows per partial_fit call: large enough to keep the Python overhead small, small enough
# that a block of even a wide network finishes well within the cancellation budget.
_BLOCK_ROWS = 2048
_LABEL_NAMES = ("sell", "hold", "buy")


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float
    val_loss: float
    train_accuracy: float
    val_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingResult:
    strategy_name: str
    model_path: Path
    epochs_completed: int
    epochs_total: int
    train_loss: float
    val_loss: float
    train_accuracy: float
    val_accuracy: float
    history: tuple[EpochStats, ...]
    train_samples: int
    val_samples: int
    feature_names: tuple[str, ...]
    train_range: tuple[str, str]
    val_range: tuple[str, str]
    train_label_counts: dict[str, int]

    def to_summary(self) -> dict[str, Any]:
        return {
            "strategy_name": self.strategy_name,
            "model_path": str(self.model_path),
            "epochs_completed": self.epochs_completed,
            "epochs_total": self.epochs_total,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "train_accuracy": self.train_accuracy,
            "val_accuracy": self.val_accuracy,
            "train_samples": self.train_samples,
            "val_samples": self.val_samples,
            "feature_names": list(self.feature_names),
            "train_range": list(self.train_range),
            "val_range": list(self.val_range),
            "train_label_counts": dict(self.train_label_counts),
            "history": [stats.to_dict() for stats in self.history],
        }


def train_strategy(
    strategy: StrategyConfig,
    bars: Bars,
    *,
    reporter: ProgressReporter,
    token: CancellationToken,
    models_dir: Path,
) -> TrainingResult:
    """Train ``strategy``'s model on ``bars`` (its training range) and save it.

    Reports once per epoch; raises ``CancellationRequested`` (``where="Epoch n/N"``, n the
    last completed epoch) when ``token`` is cancelled, ``JobFailedError`` when the data is
    too short or training diverges.
    """
    spec = strategy.model
    epochs = spec.epochs
    dataset = build_dataset(strategy, bars)
    train_count = dataset.y_train.size
    classifier = MLPClassifier(
        hidden_layer_sizes=tuple(spec.hidden_layers),
        learning_rate_init=spec.learning_rate,
        alpha=spec.l2,
        # sklearn warns when a batch is larger than the data it is given; clip it here.
        batch_size=min(spec.batch_size, train_count),
        random_state=spec.seed,
        shuffle=False,  # each epoch's order is shuffled below, once
    )
    block_rows = max(_BLOCK_ROWS // classifier.batch_size, 1) * classifier.batch_size
    block_count = max(train_count // block_rows, 1)  # array_split keeps every block >= a batch
    rng = np.random.default_rng(spec.seed)

    history: list[EpochStats] = []
    # Overflow in a diverging network is reported below as a failed job, not as warnings.
    with np.errstate(all="ignore"):
        for epoch in range(1, epochs + 1):
            where = f"Epoch {epoch - 1}/{epochs}"
            token.raise_if_cancelled(where=where)
            order = rng.permutation(train_count)
            for block in np.array_split(order, block_count):
                _fit_block(classifier, dataset.x_train[block], dataset.y_train[block], epoch)
                token.raise_if_cancelled(where=where)
            stats = _epoch_stats(classifier, dataset, epoch)
            history.append(stats)
            reporter.report(
                ProgressUpdate(
                    epoch / epochs * 100.0,
                    f"Epoch {epoch}/{epochs}",
                    items_processed=epoch,
                    items_total=epochs,
                    context=TrainingProgressContext(
                        epoch=stats.epoch,
                        total_epochs=epochs,
                        train_loss=stats.train_loss,
                        val_loss=stats.val_loss,
                        train_accuracy=stats.train_accuracy,
                        val_accuracy=stats.val_accuracy,
                    ).to_dict(),
                )
            )

    final = history[-1]
    train_label_counts = {
        name: int(count)
        for name, count in zip(
            _LABEL_NAMES, np.bincount(dataset.y_train, minlength=len(CLASSES)), strict=True
        )
    }
    model_path = save_model(
        models_dir,
        strategy,
        classifier,
        dataset.scaler,
        dataset.feature_names,
        {
            "epochs": epochs,
            "metrics": {
                "train_loss": final.train_loss,
                "val_loss": final.val_loss,
                "train_accuracy": final.train_accuracy,
                "val_accuracy": final.val_accuracy,
            },
            "train_range": list(dataset.train_range),
            "val_range": list(dataset.val_range),
            "train_samples": train_count,
            "val_samples": int(dataset.y_val.size),
            "train_label_counts": train_label_counts,
        },
    )
    return TrainingResult(
        strategy_name=strategy.name,
        model_path=model_path,
        epochs_completed=len(history),
        epochs_total=epochs,
        train_loss=final.train_loss,
        val_loss=final.val_loss,
        train_accuracy=final.train_accuracy,
        val_accuracy=final.val_accuracy,
        history=tuple(history),
        train_samples=train_count,
        val_samples=int(dataset.y_val.size),
        feature_names=tuple(dataset.feature_names),
        train_range=dataset.train_range,
        val_range=dataset.val_range,
        train_label_counts=train_label_counts,
    )


def _fit_block(classifier: MLPClassifier, x: FloatArray, y: LabelArray, epoch: int) -> None:
    try:
        classifier.partial_fit(x, y, classes=list(CLASSES))
    except ValueError as exc:  # sklearn's report of non-finite weights
        raise _diverged(epoch, str(exc)) from exc


def _epoch_stats(classifier: MLPClassifier, dataset: Dataset, epoch: int) -> EpochStats:
    train_loss, train_accuracy = _evaluate(classifier, dataset.x_train, dataset.y_train)
    val_loss, val_accuracy = _evaluate(classifier, dataset.x_val, dataset.y_val)
    if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
        raise _diverged(epoch, f"loss is not finite (train {train_loss}, validation {val_loss})")
    return EpochStats(epoch, train_loss, val_loss, train_accuracy, val_accuracy)


def _evaluate(classifier: MLPClassifier, x: FloatArray, y: LabelArray) -> tuple[float, float]:
    """Mean cross-entropy (without the L2 penalty, so train and validation compare) and accuracy."""
    proba = np.asarray(classifier.predict_proba(x), dtype=np.float64)
    if not np.all(np.isfinite(proba)):
        return math.nan, 0.0
    picked = np.clip(proba[np.arange(y.size), y], 1e-15, 1.0)
    loss = float(-np.mean(np.log(picked)))
    accuracy = float(np.mean(np.argmax(proba, axis=1) == y))
    return loss, accuracy


def _diverged(epoch: int, reason: str) -> JobFailedError:
    return JobFailedError(
        f"training diverged in epoch {epoch}: {reason} (try a lower learning rate)",
        details={"epoch": epoch, "reason": reason},
    )
