"""The training engine: an MLP classifier trained epoch by epoch, reporting and cancellable.

Each epoch shuffles the training rows (seeded, so runs repeat) and feeds them to
``partial_fit`` in blocks; the cancellation token is checked between blocks, so a cancel
takes effect within one block (milliseconds), not one epoch.

Early stopping: after each epoch the validation loss is compared with the best so far; once
``patience`` epochs pass without beating it (by more than ``min_delta``) training stops, and
the model saved is the best epoch's, not the last one's. Without a patience every epoch
runs and the last epoch's weights are kept (``best_epoch`` still names the lowest
validation loss, so an overfitted training can be flagged).

The engine makes the records the rest of the system keeps: each epoch's ``EpochFigures``
(reported as progress, kept as the result's history) and the ``TrainingSummary`` the
operation stores, the API serves and the client reads.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ktrdr.data.bars import Bars, FloatArray
from ktrdr.errors import JobFailedError
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.records.contexts import TrainingProgressContext
from ktrdr.records.results import EpochFigures, TrainingSummary
from ktrdr.strategies.models import ModelSpec, StrategyConfig
from ktrdr.training.dataset import CLASSES, Dataset, LabelArray, build_dataset
from ktrdr.training.model_store import save_model

if TYPE_CHECKING:  # scikit-learn (about a second to import) loads at the first training
    from sklearn.neural_network import MLPClassifier

# Rows per partial_fit call: large enough to keep the Python overhead small, small enough
# that a block of even a wide network finishes well within the cancellation budget.
_BLOCK_ROWS = 2048
_LABEL_NAMES = ("sell", "hold", "buy")


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

    def update(self, classifier: MLPClassifier, epoch: int, val_loss: float) -> None:
        if val_loss < self.val_loss - self.min_delta:
            self.epoch, self.val_loss = epoch, val_loss
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
) -> TrainingSummary:
    """Train ``strategy``'s model on ``bars`` (its training range), save it, and return what
    the training operation keeps as its result.

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
    if spec.patience is not None:  # early stopping keeps the best epoch's weights
        best.restore(classifier)
    summary = _summary(strategy, dataset, history, best)
    model_path = save_model(
        models_dir,
        strategy,
        classifier,
        dataset.scaler,
        dataset.feature_names,
        _model_meta(summary),
    )
    # The directory is named when the model is saved, after the meta it holds is written.
    return summary.model_copy(update={"model_path": str(model_path)})


def _summary(
    strategy: StrategyConfig, dataset: Dataset, history: list[EpochFigures], best: _BestEpoch
) -> TrainingSummary:
    """The result without its model path. Its loss and accuracy figures are the kept
    epoch's: the best one's with a patience (its weights were restored), else the last's."""
    final = history[-1]
    kept = history[best.epoch - 1] if strategy.model.patience is not None else final
    return TrainingSummary(
        strategy_name=strategy.name,
        epochs_completed=len(history),
        epochs_total=strategy.model.epochs,
        train_loss=kept.train_loss,
        val_loss=kept.val_loss,
        train_accuracy=kept.train_accuracy,
        val_accuracy=kept.val_accuracy,
        train_samples=int(dataset.y_train.size),
        val_samples=int(dataset.y_val.size),
        feature_names=tuple(dataset.feature_names),
        train_range=dataset.train_range,
        val_range=dataset.val_range,
        train_label_counts=_label_counts(dataset.y_train),
        history=tuple(history),
        best_epoch=best.epoch,
        stopped_epoch=len(history),  # epochs run from 1 with none skipped
        stopped_early=len(history) < strategy.model.epochs,
        best_val_loss=best.val_loss,
        final_val_loss=final.val_loss,
    )


def _run_epochs(
    classifier: MLPClassifier,
    dataset: Dataset,
    spec: ModelSpec,
    reporter: ProgressReporter,
    token: CancellationToken,
) -> tuple[list[EpochFigures], _BestEpoch]:
    """Every epoch run, and the best of them; stops when ``spec.patience`` runs out."""
    epochs = spec.epochs
    train_count = dataset.y_train.size
    block_count = block_plan(classifier, train_count)
    rng = np.random.default_rng(spec.seed)
    best = _BestEpoch(spec.patience, spec.min_delta)
    history: list[EpochFigures] = []
    for epoch in range(1, epochs + 1):
        where = f"Epoch {epoch - 1:,}/{epochs:,}"
        token.raise_if_cancelled(where=where)
        order = rng.permutation(train_count)
        for block in np.array_split(order, block_count):
            _fit_block(classifier, dataset.x_train[block], dataset.y_train[block], epoch)
            token.raise_if_cancelled(where=where)
        val_loss, figures = _measure(classifier, dataset, epoch)
        history.append(figures)
        best.update(classifier, epoch, val_loss)
        stopping = epoch < epochs and best.out_of_patience(epoch)
        step = f"Epoch {epoch:,}/{epochs:,}"
        if stopping:
            step = f"Stopped early at epoch {epoch:,}/{epochs:,} (best {best.epoch:,})"
        reporter.report(_epoch_update(figures, epoch, epochs, step))
        if stopping:
            break
    return history, best


def _epoch_update(figures: EpochFigures, epoch: int, epochs: int, step: str) -> ProgressUpdate:
    # An early stop jumps from here to completion; the service, not the engine, reports 100%.
    return ProgressUpdate(
        epoch / epochs * 100.0,
        step,
        items_processed=epoch,
        items_total=epochs,
        context=TrainingProgressContext.after_epoch(figures, epochs).to_dict(),
    )


def _label_counts(labels: LabelArray) -> dict[str, int]:
    counts = np.bincount(labels, minlength=len(CLASSES))
    return {name: int(count) for name, count in zip(_LABEL_NAMES, counts, strict=True)}


# What meta.json records of the training beside what ``save_model`` adds, by result key.
_META_METRICS = {"train_loss", "val_loss", "train_accuracy", "val_accuracy"}
_META_FIGURES = {
    "best_epoch",
    "stopped_epoch",
    "stopped_early",
    "final_val_loss",
    "train_range",
    "val_range",
    "train_samples",
    "val_samples",
    "train_label_counts",
}


def _model_meta(summary: TrainingSummary) -> dict[str, Any]:
    """What meta.json records of the training: the saved (kept) epoch's metrics and how
    the training ended, under the result's own keys."""
    return {
        "epochs": summary.epochs_total,
        "metrics": summary.model_dump(mode="json", include=_META_METRICS),
        **summary.model_dump(mode="json", include=_META_FIGURES),
    }


def new_classifier(spec: ModelSpec, train_count: int) -> MLPClassifier:
    """The untrained network for ``spec``, fed ``train_count`` rows an epoch."""
    from sklearn.neural_network import MLPClassifier

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


def _measure(classifier: MLPClassifier, dataset: Dataset, epoch: int) -> tuple[float, EpochFigures]:
    """The epoch's validation loss (what early stopping compares) and all its figures."""
    train_loss, train_accuracy = _evaluate(classifier, dataset.x_train, dataset.y_train)
    val_loss, val_accuracy = _evaluate(classifier, dataset.x_val, dataset.y_val)
    if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
        raise _diverged(epoch, f"loss is not finite (train {train_loss}, validation {val_loss})")
    figures = EpochFigures(
        epoch=epoch,
        train_loss=train_loss,
        val_loss=val_loss,
        train_accuracy=train_accuracy,
        val_accuracy=val_accuracy,
    )
    return val_loss, figures


def _evaluate(classifier: MLPClassifier, x: FloatArray, y: LabelArray) -> tuple[float, float]:
    """Mean cross-entropy (without the L2 penalty, so train and validation compare) and accuracy.

    The exact figures on every row, after the epoch: one forward pass, about a tenth of what
    the epoch's ``partial_fit`` costs (which runs forward and backward per mini-batch). The
    rows were validated when they were fitted, so sklearn's finiteness scan is skipped.
    """
    import sklearn

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
