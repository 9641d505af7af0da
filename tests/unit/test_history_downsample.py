"""Issue 21, item 3 (the size of a long history): ``GET /training/{id}/history?max_points=N``
thins a long curve the way a backtest's series is thinned, keeping the first and last
epochs and each figure's extremes. The thinning itself is read here; the route's bounds
and the bytes it saves are read over HTTP in tests/integration/test_curves_survive.py."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from ktrdr.jobs.pictures import HISTORY_MIN_POINTS, thin_epochs, training_history
from ktrdr.operations.curves import FIGURES
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.operations.training_history import TrainingHistory
from ktrdr.records.models import OperationType
from ktrdr.records.results import EpochFigures, TrainingSummary

EPOCHS = 30_000
# Single-epoch outliers a thinned chart must still show: (epoch, figure, value).
SPIKES = [
    (7, "val_loss", 9.0),
    (12_345, "train_loss", -0.5),
    (20_001, "val_accuracy", 0.999),
    (29_998, "train_accuracy", 0.001),
]


def noisy_curve(epochs: int = EPOCHS, seed: int = 5) -> list[EpochFigures]:
    """A long training's epochs: losses falling and accuracies rising, with noise, a
    stretch where validation was not reported, and a few planted outliers."""
    rng = np.random.default_rng(seed)
    n = np.arange(1, epochs + 1, dtype=np.float64)
    figures = {
        "train_loss": 1.0 / np.sqrt(n) + rng.normal(0, 0.01, epochs),
        "val_loss": 1.2 / np.sqrt(n) + rng.normal(0, 0.02, epochs),
        "train_accuracy": 0.5 + 0.4 * (1 - 1 / np.sqrt(n)) + rng.normal(0, 0.01, epochs),
        "val_accuracy": 0.5 + 0.3 * (1 - 1 / np.sqrt(n)) + rng.normal(0, 0.02, epochs),
    }
    for epoch, name, value in SPIKES:
        if epoch <= epochs:
            figures[name][epoch - 1] = value
    rows = []
    for i in range(epochs):
        values: dict[str, float | None] = {name: float(figures[name][i]) for name in FIGURES}
        if 1_000 <= i < 1_500:  # validation skipped for a while
            values["val_loss"] = values["val_accuracy"] = None
        rows.append(EpochFigures(epoch=i + 1, **values))
    return rows


def extremes(rows: list[EpochFigures], name: str) -> tuple[float, float]:
    values = [v for row in rows if (v := getattr(row, name)) is not None]
    return min(values), max(values)


@pytest.mark.parametrize("max_points", [HISTORY_MIN_POINTS, 100, 2_000])
def test_a_thinned_history_keeps_the_ends_and_every_figures_extremes(max_points: int) -> None:
    """Item 3 (max_points): at most N epochs, first and last, each figure's min and max."""
    rows = noisy_curve()
    kept = thin_epochs(rows, max_points)
    assert 0 < len(kept) <= max_points
    numbers = [row.epoch or 0 for row in kept]
    assert numbers == sorted(set(numbers))  # in order, none repeated
    assert numbers[0] == 1 and numbers[-1] == EPOCHS
    assert all(row is rows[row.epoch - 1] for row in kept if row.epoch)  # whole rows, unchanged
    for name in FIGURES:
        assert extremes(kept, name) == extremes(rows, name), name


def test_outliers_anywhere_survive_a_thinning_to_a_few_hundred_points() -> None:
    """Item 3 (max_points): a spike of one epoch in any stretch is among the points kept."""
    rows = noisy_curve()
    kept = {row.epoch: row for row in thin_epochs(rows, 300)}
    for epoch, name, value in SPIKES:
        assert epoch in kept and getattr(kept[epoch], name) == value


def test_every_stretch_keeps_its_own_highs_and_lows() -> None:
    """Item 3 (max_points): per stretch of epochs, not only overall: forty local highs and
    lows of one figure, each far above or below its neighbours, all survive."""
    rng = np.random.default_rng(3)
    loss = 0.5 + rng.normal(0, 0.01, EPOCHS)
    highs = [750 * k + 375 for k in range(40)]
    for k, epoch in enumerate(highs):
        loss[epoch - 1] = 0.9 + k / 1000  # a high well clear of the noise
        loss[epoch + 4] = 0.1 - k / 1000  # and a low five epochs later
    rows = [EpochFigures(epoch=i + 1, train_loss=float(v)) for i, v in enumerate(loss)]
    kept = {row.epoch for row in thin_epochs(rows, 2_000)}
    assert {*highs, *(e + 5 for e in highs)} <= kept


def test_a_short_history_is_sent_whole_and_too_few_points_are_refused() -> None:
    """Item 3 (max_points): exact when it fits; the floor is enforced below the route too."""
    rows = noisy_curve(epochs=50)
    assert thin_epochs(rows, 50) == rows
    with pytest.raises(ValueError, match="at least"):
        thin_epochs(rows, HISTORY_MIN_POINTS - 1)


def test_a_figure_never_reported_does_not_waste_points() -> None:
    """Item 3 (max_points): a training without validation thins on the figures it has."""
    rows = [
        EpochFigures(epoch=n, train_loss=math.sin(n / 50.0), train_accuracy=n / 10_000)
        for n in range(1, 10_001)
    ]
    kept = thin_epochs(rows, 60)
    assert len(kept) <= 60 and kept[0].epoch == 1 and kept[-1].epoch == 10_000
    assert extremes(kept, "train_loss") == extremes(rows, "train_loss")


@pytest.fixture
def service() -> Iterator[OperationsService]:
    service = OperationsService(InMemoryOperationStore())
    yield service
    service.close()


def test_the_history_read_thins_a_completed_trainings_result_after_since(
    service: OperationsService,
) -> None:
    """Item 3 (max_points): the read behind the route thins what ``since`` leaves."""
    rows = noisy_curve(epochs=5_000)
    op = service.create(OperationType.TRAINING, parameters={"epochs": 5_000})
    service.start(op.operation_id)
    service.complete(
        op.operation_id, TrainingSummary(epochs_total=5_000, history=tuple(rows)).to_dict()
    )
    keeper = TrainingHistory()
    whole = training_history(service, keeper, op.operation_id, None)
    assert len(whole.epochs) == 5_000
    thinned = training_history(service, keeper, op.operation_id, 4_000, max_points=100)
    numbers = [row.epoch for row in thinned.epochs]
    assert len(numbers) <= 100 and numbers[0] == 4_001 and numbers[-1] == 5_000
    assert thinned.epochs_total == 5_000
