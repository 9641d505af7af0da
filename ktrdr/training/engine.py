"""The training engine: an MLP classifier trained epoch by epoch, reporting and cancellable.

Each epoch shuffles the training rows (seeded, so runs repeat) and feeds them to
``partial_fit`` in blocks; the cancellation token is checked between blocks, so a cancel
takes effect within one block (milliseconds), not one epoch.

Early stopping: after each epoch the validation loss is compared with the best so far; once
``patience`` epochs pass without beating it (by more than ``min_delta``) training stops, and
the model saved is the best epoch's, not the last one's. Without a patience every epoch
runs and the last epoch's weights are kept (``best_epoch`` still names the lowest
validation loss, so an overfitted training can be flagged).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.neural_network import MLPClassifier

from ktrdr.data.bars import Bars, FloatArray
from ktrdr.errors import JobFailedError
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.contexts import TrainingProgressContext
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.strategies.models import ModelSpec, StrategyConfig
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
    # The loss and accuracy figures above are the kept epoch's (the best with a patience,
    # else the last); these say how it ended.
    best_epoch: int
    stopped_epoch: int  # the last epoch run, == epochs_completed
    stopped_early: bool
    best_val_loss: float
    final_val_loss: float  # the last epoch's: far above best_val_loss when it overfitted

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
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "stopped_early": self.stopped_early,
            "best_val_loss": self.best_val_loss,
            "final_val_loss": self.final_val_loss,
        }


class _BestEpoch:
    """The best validation loss so far, its epoch, and a copy of that epoch's weights.

    Only ``coefs_`` and ``intercepts_`` are copied (all a prediction reads), not the whole
    classifier with its optimizer state and ever-growing loss curve. Measured: ~3 µs for the
    default [32, 16] network and ~12 ms for the largest allowed (8 x 1,024 units), where a
    ``deepcopy`` of the classifier takes ~1 ms and ~450 ms; and only an improvement copies.
    """

    def __init__(self, patience: int | None, min_delta: float) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.epoch = 0
        self.val_loss = math.inf
        self._weights: list[FloatArray] = []

    def update(self, classifier: MLPClassifier, stats: EpochStats) -> None:
        if stats.val_loss < self.val_loss - self.min_delta:
            self.epoch, self.val_loss = stats.epoch, stats.val_loss
            self._weights = [w.copy() for w in _weights_of(classifier)]

    def out_of_patience(self, epoch: int) -> bool:
        return self.patience is not None and epoch - self.epoch >= self.patience

    def restore(self, classifier: MLPClassifier) -> None:
        """Put the best epoch's weights back, in place (the arrays keep their identity)."""
        for live, kept in zip(_weights_of(classifier), self._weights, strict=True):
            np.copyto(live, kept)


def _weights_of(classifier: MLPClassifier) -> list[FloatArray]:
    return [*classifier.coefs_, *classifier.intercepts_]


def train_strategy(
    strategy: StrategyConfig,
    bars: Bars,
    *,
    reporter: ProgressReporter,
    token: CancellationToken,
    models_dir: Path,
) -> TrainingResult:
    """Train ``strategy``'s model on ``bars`` (its training range) and save it.

    Reports once per epoch; stops early when the validation loss has not improved for
    ``model.patience`` epochs, and saves the best epoch's weights. Raises
    ``CancellationRequested`` (``where="Epoch n/N"``, n the last completed epoch) when
    ``token`` is cancelled, ``JobFailedError`` when the data is too short or training diverges.
    """
    spec = strategy.model
    dataset = build_dataset(strategy, bars)
    classifier = new_classifier(spec, dataset.y_train.size)
    # Overflow in a diverging network is reported below as a failed job, not as warnings.
    with np.errstate(all="ignore"):
        history, best = _run_epochs(classifier, dataset, spec, reporter, token)
    final = history[-1]
    kept = final
    if spec.patience is not None:  # early stopping keeps the best epoch's weights
        best.restore(classifier)
        kept = history[best.epoch - 1]
    result = TrainingResult(
        strategy_name=strategy.name,
        model_path=Path(),  # set once saved, below
        epochs_completed=len(history),
        epochs_total=spec.epochs,
        train_loss=kept.train_loss,
        val_loss=kept.val_loss,
        train_accuracy=kept.train_accuracy,
        val_accuracy=kept.val_accuracy,
        history=tuple(history),
        train_samples=int(dataset.y_train.size),
        val_samples=int(dataset.y_val.size),
        feature_names=tuple(dataset.feature_names),
        train_range=dataset.train_range,
        val_range=dataset.val_range,
        train_label_counts=_label_counts(dataset.y_train),
        best_epoch=best.epoch,
        stopped_epoch=final.epoch,
        stopped_early=final.epoch < spec.epochs,
        best_val_loss=best.val_loss,
        final_val_loss=final.val_loss,
    )
    model_path = save_model(
        models_dir,
        strategy,
        classifier,
        dataset.scaler,
        dataset.feature_names,
        _model_meta(result),
    )
    return replace(result, model_path=model_path)


def _run_epochs(
    classifier: MLPClassifier,
    dataset: Dataset,
    spec: ModelSpec,
    reporter: ProgressReporter,
    token: CancellationToken,
) -> tuple[list[EpochStats], _BestEpoch]:
    """Every epoch run, and the best of them; stops when ``spec.patience`` runs out."""
    epochs = spec.epochs
    train_count = dataset.y_train.size
    block_count = block_plan(classifier, train_count)
    rng = np.random.default_rng(spec.seed)
    best = _BestEpoch(spec.patience, spec.min_delta)
    history: list[EpochStats] = []
    for epoch in range(1, epochs + 1):
        where = f"Epoch {epoch - 1}/{epochs}"
        token.raise_if_cancelled(where=where)
        order = rng.permutation(train_count)
        for block in np.array_split(order, block_count):
            _fit_block(classifier, dataset.x_train[block], dataset.y_train[block], epoch)
            token.raise_if_cancelled(where=where)
        stats = _epoch_stats(classifier, dataset, epoch)
        history.append(stats)
        best.update(classifier, stats)
        stopping = epoch < epochs and best.out_of_patience(epoch)
        step = f"Epoch {epoch}/{epochs}"
        if stopping:
            step = f"Stopped early at epoch {epoch}/{epochs} (best {best.epoch})"
        reporter.report(_epoch_update(stats, epochs, step))
        if stopping:
            break
    return history, best


def _epoch_update(stats: EpochStats, epochs: int, step: str) -> ProgressUpdate:
    # An early stop jumps from here to completion; the service, not the engine, reports 100%.
    return ProgressUpdate(
        stats.epoch / epochs * 100.0,
        step,
        items_processed=stats.epoch,
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


def _label_counts(labels: LabelArray) -> dict[str, int]:
    counts = np.bincount(labels, minlength=len(CLASSES))
    return {name: int(count) for name, count in zip(_LABEL_NAMES, counts, strict=True)}


def _model_meta(result: TrainingResult) -> dict[str, Any]:
    """What meta.json records of the training, beside what ``save_model`` adds."""
    return {
        "epochs": result.epochs_total,
        "metrics": {  # the saved (best) epoch's
            "train_loss": result.train_loss,
            "val_loss": result.val_loss,
            "train_accuracy": result.train_accuracy,
            "val_accuracy": result.val_accuracy,
        },
        "best_epoch": result.best_epoch,
        "stopped_epoch": result.stopped_epoch,
        "stopped_early": result.stopped_early,
        "final_val_loss": result.final_val_loss,
        "train_range": list(result.train_range),
        "val_range": list(result.val_range),
        "train_samples": result.train_samples,
        "val_samples": result.val_samples,
        "train_label_counts": result.train_label_counts,
    }


def new_classifier(spec: ModelSpec, train_count: int) -> MLPClassifier:
    """The untrained network for ``spec``, fed ``train_count`` rows an epoch."""
    return MLPClassifier(
        hidden_layer_sizes=tuple(spec.hidden_layers),
        learning_rate_init=spec.learning_rate,
        alpha=spec.l2,
        # sklearn warns when a batch is larger than the data it is given; clip it here.
        batch_size=min(spec.batch_size, train_count),
        random_state=spec.seed,
        shuffle=False,  # each epoch's order is shuffled by the caller, once
    )


def block_plan(classifier: MLPClassifier, train_count: int) -> int:
    """How many ``partial_fit`` blocks an epoch is split into (whole batches each)."""
    batch = int(classifier.batch_size)
    block_rows = max(_BLOCK_ROWS // batch, 1) * batch
    return max(train_count // block_rows, 1)  # array_split keeps every block >= a batch


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
    """Mean cross-entropy (without the L2 penalty, so train and validation compare) and accuracy.

    The exact figures on every row, after the epoch: one forward pass, about a tenth of what
    the epoch's ``partial_fit`` costs (which runs forward and backward per mini-batch). The
    rows were validated when they were fitted, so sklearn's finiteness scan is skipped.
    """
    with sklearn.config_context(assume_finite=True):
        proba = np.asarray(classifier.predict_proba(x), dtype=np.float64)
    # Probabilities are at most 1, so their sum is finite exactly when every one is.
    if not math.isfinite(float(proba.sum())):
        return math.nan, 0.0
    picked = np.clip(np.take_along_axis(proba, y[:, np.newaxis], axis=1), 1e-15, 1.0)
    loss = float(-np.mean(np.log(picked)))
    accuracy = float(np.mean(np.argmax(proba, axis=1) == y))
    return loss, accuracy


def _diverged(epoch: int, reason: str) -> JobFailedError:
    return JobFailedError(
        f"training diverged in epoch {epoch}: {reason} (try a lower learning rate)",
        details={"epoch": epoch, "reason": reason},
    )
