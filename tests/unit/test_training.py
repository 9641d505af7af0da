"""Labels, the chronological dataset, the epoch loop (progress, cancel) and the model store."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from ktrdr.data.bars import Bars
from ktrdr.data.market import MarketData
from ktrdr.errors import InvalidRequestError, JobFailedError
from ktrdr.indicators import compute_features
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.progress import NullProgressReporter, ProgressUpdate
from ktrdr.records.results import TrainingSummary
from ktrdr.strategies.loader import load_strategy
from ktrdr.strategies.models import StrategyConfig
from ktrdr.training import (
    build_dataset,
    list_models,
    load_model,
    make_labels,
    train_strategy,
)
from tests.support.reporting import RecordingReporter


def make_bars(close: np.ndarray) -> Bars:
    stamps = np.datetime64("2000-01-03T00:00:00") + np.arange(close.size).astype("timedelta64[D]")
    return Bars("TEST", "1d", stamps, close, close * 1.01, close * 0.99, close, np.ones(close.size))


def random_walk(n: int, seed: int = 0) -> Bars:
    rng = np.random.default_rng(seed)
    return make_bars(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))))


def strategy(epochs: int = 4, mode: str = "long_short", **model: Any) -> StrategyConfig:
    return StrategyConfig.model_validate(
        {
            "name": "synthetic",
            "data": {"validation_fraction": 0.25},
            "indicators": [
                {"name": "rsi", "type": "rsi", "params": {"period": 5}},
                {"name": "ret", "type": "returns", "params": {"period": 1}},
            ],
            "labels": {"horizon": 2, "threshold": 0.005},
            "model": {"hidden_layers": [8], "epochs": epochs, "batch_size": 32, "seed": 3, **model},
            "backtest": {"mode": mode},
        }
    )


T = TypeVar("T")


def known(value: T | None) -> T:
    """A figure the engine always sets (the result record types each one as optional, since
    an old stored row may lack it)."""
    assert value is not None
    return value


def model_dir(result: TrainingSummary) -> Path:
    return Path(known(result.model_path))


def train(
    config: StrategyConfig,
    bars: Bars,
    models_dir: Path,
    reporter: Any = None,
    token: CancellationToken | None = None,
) -> TrainingSummary:
    return train_strategy(
        config,
        bars,
        reporter=reporter or NullProgressReporter(),
        token=token or CancellationToken(),
        models_dir=models_dir,
    )


# --- labels and dataset -------------------------------------------------------------------


def test_labels_come_from_the_forward_return_and_drop_the_last_horizon_rows() -> None:
    close = np.array([100.0, 102.0, 100.5, 99.0, 101.0])
    # forward 1-bar returns: +2%, -1.47%, -1.49%, +2.02%
    assert make_labels(close, 1, 0.01).tolist() == [2, 0, 0, 2]
    # forward 2-bar returns: +0.5%, -2.94%, +0.5%
    assert make_labels(close, 2, 0.01).tolist() == [1, 0, 1]
    assert make_labels(close, 5, 0.01).size == 0


def test_dataset_splits_by_time_without_shuffling_and_scales_on_train_only() -> None:
    bars = random_walk(400)
    config = strategy()
    data = build_dataset(config, bars)
    features = compute_features(config, bars)
    horizon = config.labels.horizon
    (train_start, train_stop), (val_start, val_stop) = data.train_rows, data.val_rows

    assert train_start == features.valid_from
    assert val_stop == len(bars) - horizon
    # Training labels look `horizon` bars ahead, so a gap that long keeps them off val prices.
    assert val_start - train_stop == horizon
    assert data.y_val.size == round((val_stop - train_start) * 0.25)

    train_raw = features.values[train_start:train_stop]
    assert np.allclose(data.scaler.mean_, train_raw.mean(axis=0))
    assert np.allclose(data.x_train, data.scaler.transform(train_raw))
    assert np.allclose(data.x_val, data.scaler.transform(features.values[val_start:val_stop]))
    labels = make_labels(bars.close, horizon, config.labels.threshold)
    assert data.y_train.tolist() == labels[train_start:train_stop].tolist()
    assert data.y_val.tolist() == labels[val_start:val_stop].tolist()
    assert data.train_range[1] < data.val_range[0]


def test_too_few_training_rows_fail_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(JobFailedError, match="too few training rows"):
        train(strategy(), random_walk(60), tmp_path)


# --- the epoch loop -------------------------------------------------------------------------


def test_reports_once_per_epoch_with_losses_and_accuracy(tmp_path: Path) -> None:
    reporter = RecordingReporter()
    result = train(strategy(epochs=5), random_walk(400), tmp_path, reporter)

    assert len(reporter.reports) == 5
    percentages = [r["percentage"] for r in reporter.reports]
    assert percentages == sorted(percentages) and percentages[-1] == 100.0
    assert [r["current_step"] for r in reporter.reports] == [f"Epoch {e}/5" for e in range(1, 6)]
    assert [r["items_processed"] for r in reporter.reports] == [1, 2, 3, 4, 5]
    last = reporter.reports[-1]["context"]
    assert {
        "epoch",
        "total_epochs",
        "train_loss",
        "val_loss",
        "val_accuracy",
        "train_accuracy",
    } <= set(last)
    assert (last["epoch"], last["total_epochs"]) == (5, 5)

    assert result.epochs_completed == 5
    assert [s.epoch for s in result.history] == [1, 2, 3, 4, 5]
    assert result.val_loss == last["val_loss"]
    assert 0.0 <= known(result.val_accuracy) <= 1.0
    summary = result.to_dict()
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_the_same_seed_trains_the_same_model(tmp_path: Path) -> None:
    bars = random_walk(300)
    first = train(strategy(epochs=3), bars, tmp_path / "a")
    second = train(strategy(epochs=3), bars, tmp_path / "b")
    assert first.history == second.history


def test_classes_missing_from_the_training_set_do_not_crash(tmp_path: Path) -> None:
    # A steady climb: every forward return beats the threshold, so every label is BUY.
    bars = make_bars(100.0 * 1.01 ** np.arange(300) * (1 + 0.001 * np.sin(np.arange(300))))
    result = train(strategy(epochs=2), bars, tmp_path)
    assert result.train_label_counts == {"sell": 0, "hold": 0, "buy": result.train_samples}


class CancelAtEpoch:
    """Hands control to a canceller thread after one epoch's report and waits until it acted."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.reached = threading.Event()
        self.cancelled = threading.Event()

    def report(self, update: ProgressUpdate) -> None:
        if update.items_processed == self.epoch:
            self.reached.set()
            self.cancelled.wait(timeout=5)


def test_cancel_from_another_thread_stops_after_the_current_epoch(tmp_path: Path) -> None:
    token = CancellationToken()
    reporter = CancelAtEpoch(epoch=3)
    cancelled_at: list[float] = []

    def cancel_when_reached() -> None:
        reporter.reached.wait(timeout=5)
        cancelled_at.append(time.monotonic())
        token.cancel()
        reporter.cancelled.set()

    canceller = threading.Thread(target=cancel_when_reached)
    canceller.start()
    with pytest.raises(CancellationRequested) as stopped:
        train(strategy(epochs=50), random_walk(400), tmp_path, reporter, token)
    stopped_after = time.monotonic() - cancelled_at[0]
    canceller.join()

    assert stopped.value.where == "Epoch 3/50"
    assert stopped_after < 1.0
    assert list_models(tmp_path) == []


def test_cancel_in_the_middle_of_long_epochs_takes_effect_fast(tmp_path: Path) -> None:
    # 20k rows in tiny batches make each epoch long, so the cancel lands inside one.
    token = CancellationToken()
    cancelled_at: list[float] = []

    def cancel() -> None:
        cancelled_at.append(time.monotonic())
        token.cancel()

    timer = threading.Timer(0.3, cancel)
    timer.start()
    with pytest.raises(CancellationRequested) as stopped:
        train(strategy(epochs=1000, batch_size=4), random_walk(20_000), tmp_path, token=token)
    stopped_after = time.monotonic() - cancelled_at[0]
    timer.join()
    assert stopped.value.where.startswith("Epoch ")
    assert stopped.value.where.endswith("/1,000")
    assert stopped_after < 1.0


# --- the model store ------------------------------------------------------------------------


def test_a_saved_model_round_trips_and_predicts_one_position_per_bar(tmp_path: Path) -> None:
    bars = random_walk(400)
    result = train(strategy(epochs=3), bars, tmp_path)
    assert model_dir(result).parent == tmp_path / "synthetic"
    meta = json.loads((model_dir(result) / "meta.json").read_text())
    assert meta["feature_names"] == list(result.feature_names)
    assert (meta["symbol"], meta["timeframe"], meta["epochs"]) == ("SP500", "1d", 3)

    by_name = load_model("synthetic", tmp_path)
    by_path = load_model(model_dir(result), tmp_path)
    assert by_name.path == by_path.path == model_dir(result).resolve()
    assert by_name.strategy == strategy(epochs=3)

    fresh = random_walk(250, seed=9)
    positions = by_name.predict_positions(fresh)
    assert positions.shape == (250,)
    assert set(np.unique(positions)) <= {-1, 0, 1}
    warm_up = compute_features(by_name.strategy, fresh).valid_from
    assert not positions[:warm_up].any()
    assert np.array_equal(positions, by_path.predict_positions(fresh))


def test_long_flat_models_never_go_short(tmp_path: Path) -> None:
    train(strategy(epochs=2, mode="long_flat"), random_walk(400), tmp_path)
    positions = load_model("synthetic", tmp_path).predict_positions(random_walk(300, seed=4))
    assert set(np.unique(positions)) <= {0, 1}


def test_a_name_loads_the_newest_model_and_unknown_names_list_the_available(
    tmp_path: Path,
) -> None:
    bars = random_walk(300)
    older = train(strategy(epochs=1), bars, tmp_path)
    newer = train(strategy(epochs=1), bars, tmp_path)
    assert [m.path for m in list_models(tmp_path)] == [model_dir(older), model_dir(newer)]
    assert load_model("synthetic", tmp_path).path == model_dir(newer).resolve()

    with pytest.raises(InvalidRequestError, match="available: synthetic") as unknown:
        load_model("nope", tmp_path)
    assert unknown.value.details["available"] == ["synthetic"]
    with pytest.raises(InvalidRequestError, match="outside the models directory"):
        load_model(model_dir(newer), tmp_path / "elsewhere")


# --- real bundled data ----------------------------------------------------------------------


def test_a_shipped_example_trains_on_the_bundled_sp500(tmp_path: Path) -> None:
    config = load_strategy("rsi_mean_reversion")
    config = config.model_copy(update={"model": config.model.model_copy(update={"epochs": 3})})
    bars = MarketData(tmp_path / "data").load(
        "SP500", "1d", config.data.train_start, config.data.train_end
    )
    reporter = RecordingReporter()
    result = train(config, bars, tmp_path / "models", reporter)

    assert len(reporter.reports) == 3
    assert known(result.train_samples) > 2_000 and known(result.val_samples) > 500
    assert known(result.train_range)[0] >= "2000-01-01"
    assert known(result.val_range)[1] <= "2013-12-31T23:59:59"
    model = load_model("rsi_mean_reversion", tmp_path / "models")
    test_bars = MarketData(tmp_path / "data").load("SP500", "1d", config.data.test_start, None)
    positions = model.predict_positions(test_bars)
    assert positions.shape == (len(test_bars),)
    assert set(np.unique(positions)) <= {0, 1}  # the example trades long/flat
