"""Early stopping: training stops once the validation loss stops improving, and keeps the best
epoch's weights (not the last one's); the summary says where it stopped and how far the loss
climbed after its best."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.metrics import log_loss

from ktrdr.errors import StrategyValidationError
from ktrdr.records.results import TrainingSummary
from ktrdr.strategies.loader import dump_strategy, load_strategy, parse_strategy
from ktrdr.strategies.models import MAX_EPOCHS, ModelSpec, StrategyConfig
from ktrdr.training import build_dataset, load_model
from ktrdr.training.dataset import CLASSES
from tests.support.reporting import RecordingReporter
from tests.unit.test_training import known, model_dir, random_walk, strategy, train

# A wide network, a high learning rate and 300 bars of noise: it memorises the training rows
# within a few epochs, after which the validation loss climbs.
OVERFIT: dict[str, Any] = {"hidden_layers": [256, 256], "learning_rate": 0.01}
BUDGET = 200


def overfitting(epochs: int = BUDGET, **model: Any) -> StrategyConfig:
    return strategy(epochs=epochs, **{**OVERFIT, "patience": 5, **model})


def saved_val_loss(result: TrainingSummary, config: StrategyConfig, models_dir: Path) -> float:
    """The saved model's validation loss, by scikit-learn's own cross-entropy."""
    model = load_model(model_dir(result), models_dir)
    data = build_dataset(config, random_walk(300))
    proba = model.classifier.predict_proba(data.x_val)
    return float(log_loss(data.y_val, proba, labels=list(CLASSES)))


def test_a_rising_validation_loss_stops_early_and_keeps_the_best_epoch(tmp_path: Path) -> None:
    config = overfitting()
    reporter = RecordingReporter()
    result = train(config, random_walk(300), tmp_path, reporter)

    losses = [known(s.val_loss) for s in result.history]
    best = int(np.argmin(losses)) + 1
    stopped = known(result.stopped_epoch)
    assert result.stopped_early
    assert result.best_epoch == best < stopped < BUDGET
    assert stopped == best + 5  # patience
    assert result.epochs_completed == len(result.history) == stopped
    assert [s.epoch for s in result.history] == list(range(1, stopped + 1))
    # The loss rose after its best: the case early stopping exists for.
    assert result.final_val_loss == losses[-1] > known(result.best_val_loss) == losses[best - 1]

    kept = result.history[best - 1]
    figures = (result.train_loss, result.val_loss, result.train_accuracy, result.val_accuracy)
    assert figures == (kept.train_loss, kept.val_loss, kept.train_accuracy, kept.val_accuracy)
    assert saved_val_loss(result, config, tmp_path) == pytest.approx(result.best_val_loss)
    assert saved_val_loss(result, config, tmp_path) != pytest.approx(result.final_val_loss)

    meta = json.loads((model_dir(result) / "meta.json").read_text())
    assert (meta["best_epoch"], meta["stopped_epoch"], meta["stopped_early"]) == (
        best,
        result.stopped_epoch,
        True,
    )
    assert meta["metrics"]["val_loss"] == result.best_val_loss
    # meta.json keeps what it kept before the engine made the result record, as stored.
    stored = result.to_dict()
    kept_figures = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")
    assert meta["metrics"] == {key: stored[key] for key in kept_figures}
    ended = ("best_epoch", "stopped_epoch", "stopped_early", "final_val_loss")
    data = ("train_range", "val_range", "train_samples", "val_samples", "train_label_counts")
    assert {key: meta[key] for key in (*ended, *data)} == {
        key: stored[key] for key in (*ended, *data)
    }
    assert meta["epochs"] == BUDGET


def test_the_kept_weights_are_exactly_the_best_epochs(tmp_path: Path) -> None:
    # The same seed replays the same epochs, so a run that ends at the best epoch holds the
    # weights an early-stopped run must have kept.
    stopped = train(overfitting(), random_walk(300), tmp_path / "stopped")
    replay_config = overfitting(epochs=known(stopped.best_epoch), patience=None)
    replay = train(replay_config, random_walk(300), tmp_path / "replay")
    assert replay.history == stopped.history[: stopped.best_epoch]

    kept = load_model(model_dir(stopped), tmp_path / "stopped").classifier
    at_best = load_model(model_dir(replay), tmp_path / "replay").classifier
    for kept_w, best_w in zip(
        [*kept.coefs_, *kept.intercepts_], [*at_best.coefs_, *at_best.intercepts_], strict=True
    ):
        assert np.array_equal(kept_w, best_w)


def test_the_last_report_says_it_stopped_early_without_claiming_100_percent(
    tmp_path: Path,
) -> None:
    reporter = RecordingReporter()
    result = train(overfitting(), random_walk(300), tmp_path, reporter)
    stopped = known(result.stopped_epoch)

    assert len(reporter.reports) == stopped
    steps = [r["current_step"] for r in reporter.reports]
    assert steps[:-1] == [f"Epoch {e}/{BUDGET}" for e in range(1, stopped)]
    assert steps[-1] == f"Stopped early at epoch {stopped}/{BUDGET} (best {result.best_epoch})"
    last = reporter.reports[-1]
    assert last["percentage"] == pytest.approx(stopped / BUDGET * 100.0)
    assert last["percentage"] < 100.0
    assert (last["items_processed"], last["context"]["epoch"]) == (stopped,) * 2


def test_without_patience_every_epoch_runs_and_the_last_is_kept(tmp_path: Path) -> None:
    config = overfitting(epochs=30, patience=None)
    reporter = RecordingReporter()
    result = train(config, random_walk(300), tmp_path, reporter)

    assert not result.stopped_early
    assert result.stopped_epoch == result.epochs_completed == len(reporter.reports) == 30
    assert reporter.reports[-1]["current_step"] == "Epoch 30/30"
    losses = [known(s.val_loss) for s in result.history]
    assert result.best_epoch == int(np.argmin(losses)) + 1 < 30  # it did overfit
    assert result.final_val_loss == losses[-1] == result.val_loss
    # A training without a patience does what its file says: every epoch, the last weights.
    assert saved_val_loss(result, config, tmp_path) == pytest.approx(losses[-1])


def test_patience_running_out_on_the_last_epoch_is_not_an_early_stop(tmp_path: Path) -> None:
    first = train(overfitting(), random_walk(300), tmp_path / "a")
    reporter = RecordingReporter()
    budget = known(first.stopped_epoch)
    exact = train(overfitting(epochs=budget), random_walk(300), tmp_path / "b", reporter)
    assert (exact.stopped_epoch, exact.stopped_early) == (budget, False)
    assert reporter.reports[-1]["current_step"] == f"Epoch {budget}/{budget}"


def test_min_delta_counts_only_improvements_larger_than_it(tmp_path: Path) -> None:
    # On noise the validation loss stays near its first value (~1.1), never a full 1.0 below
    # it, so with min_delta 1.0 no later epoch counts as an improvement.
    result = train(overfitting(patience=3, min_delta=1.0), random_walk(300), tmp_path)
    losses = [known(s.val_loss) for s in result.history]
    assert min(losses) > losses[0] - 1.0
    assert (result.best_epoch, result.stopped_epoch) == (1, 4)
    plain = train(overfitting(patience=3), random_walk(300), tmp_path)
    assert known(plain.best_epoch) > 1  # without min_delta, later epochs do count as improvements


def test_the_summary_carries_how_training_ended(tmp_path: Path) -> None:
    result = train(overfitting(), random_walk(300), tmp_path)
    # What the engine returns is what is stored, and it reads back the same.
    summary = TrainingSummary.read(result.to_dict())
    assert summary is not None
    assert summary == result and summary.to_dict() == result.to_dict()
    assert (summary.best_epoch, summary.stopped_early) == (result.best_epoch, True)
    assert summary.stopped_epoch == len(summary.history) == len(result.history)
    best = min(known(s.val_loss) for s in result.history)
    assert summary.val_loss == summary.best_val_loss == best
    ratio = summary.overfit_ratio()
    assert ratio == pytest.approx(known(result.final_val_loss) / known(result.best_val_loss))
    assert ratio is not None and ratio > 1.0


def test_the_overfit_ratio_is_none_when_a_figure_is_missing_or_odd() -> None:
    assert TrainingSummary(best_val_loss=0.5, final_val_loss=1.45).overfit_ratio() == 2.9
    assert TrainingSummary(best_val_loss=0.5).overfit_ratio() is None
    assert TrainingSummary.read({"final_val_loss": 1.0}) == TrainingSummary(final_val_loss=1.0)
    assert TrainingSummary(best_val_loss=0.0, final_val_loss=1.0).overfit_ratio() is None
    nan = float("nan")
    assert TrainingSummary(best_val_loss=nan, final_val_loss=1.0).overfit_ratio() is None


# --- the strategy fields ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        {"patience": 0},
        {"patience": -1},
        {"patience": MAX_EPOCHS + 1},
        {"min_delta": -0.1},
        {"min_delta": 1.5},
        {"min_delta": float("nan")},
    ],
)
def test_out_of_range_patience_or_min_delta_is_refused(field: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ModelSpec.model_validate(field)


def test_a_strategy_file_names_the_refused_patience() -> None:
    text = "name: s\nindicators: [{name: rsi, type: rsi}]\nmodel:\n  patience: 0\n"
    with pytest.raises(StrategyValidationError, match="patience"):
        parse_strategy(text, "s.yaml")


def test_strategies_without_the_fields_still_load_with_the_defaults() -> None:
    text = "name: s\nindicators: [{name: rsi, type: rsi}]\nmodel: {epochs: 5}\n"
    model = parse_strategy(text).model
    assert (model.epochs, model.patience, model.min_delta) == (5, None, 0.0)
    assert load_strategy("rsi_mean_reversion").model.patience is None


def test_patience_null_survives_the_strategy_yaml_a_model_is_saved_with() -> None:
    text = "name: s\nindicators: [{name: rsi, type: rsi}]\nmodel: {patience: null}\n"
    config = parse_strategy(text)
    assert config.model.patience is None
    assert parse_strategy(dump_strategy(config)) == config
