"""Issue 21, item 3 (learning curves die with the backend): the keeper hands every epoch to
its curve store off the service's lock, and the curve files it writes survive the process
and answer what they can when damaged. Real files in a temporary directory throughout;
the kill -9 of a real backend is tests/integration/test_curves_survive.py."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ktrdr.jobs.pictures import training_history
from ktrdr.operations.curves import FIGURES, EpochRow
from ktrdr.operations.service import OperationsService
from ktrdr.operations.training_history import TrainingHistory
from ktrdr.records.contexts import TrainingProgressContext
from ktrdr.records.models import OperationStatus, OperationType
from ktrdr.records.results import EpochFigures, TrainingSummary
from ktrdr.storage.curves import SUFFIX, CurveFiles, record_size
from ktrdr.storage.sqlite_store import SqliteOperationStore
from tests.support.progress import report

FLUSH = 0.05


def figures_of(epoch: int) -> dict[str, float]:
    return {
        "train_loss": 1.0 / epoch,
        "val_loss": 1.5 / epoch,
        "train_accuracy": 0.5 + epoch / 1e5,
        "val_accuracy": 0.4 + epoch / 1e5,
    }


def report_epoch(service: OperationsService, op_id: str, epoch: int, total: int) -> None:
    context = TrainingProgressContext(epoch=epoch, total_epochs=total, **figures_of(epoch))
    report(service, op_id, 100 * epoch / total, f"Epoch {epoch}/{total}", context=context.to_dict())


def rows(epochs: range) -> list[EpochRow]:
    return [EpochRow(n, tuple(figures_of(n)[name] for name in FIGURES)) for n in epochs]


class Backend:
    """What a backend holds of trainings: a service over a SQLite file and a keeper over
    the curves directory, built as the composition root builds them."""

    def __init__(self, data_dir: Path) -> None:
        self.service = OperationsService(SqliteOperationStore(data_dir / "ktrdr.db"))
        self.keeper = TrainingHistory(CurveFiles(data_dir / "curves"), flush_interval=FLUSH)
        self.service.add_listener(self.keeper.observe)

    def training(self, epochs: int) -> str:
        op = self.service.create(OperationType.TRAINING, parameters={"epochs": epochs})
        self.service.start(op.operation_id)
        return op.operation_id

    def close(self) -> None:
        self.service.close()
        self.keeper.close()


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    backend = Backend(tmp_path)
    yield backend
    backend.close()


def test_every_epoch_reaches_the_curve_file_within_a_flush_interval(
    backend: Backend, tmp_path: Path
) -> None:
    """Item 3: epochs are written while the training runs, not only when it ends."""
    op_id = backend.training(epochs=1_000)
    for epoch in range(1, 201):
        report_epoch(backend.service, op_id, epoch, 1_000)
    time.sleep(FLUSH * 6)  # a few intervals; the keeper is not closed: as in a crash
    stored = CurveFiles(tmp_path / "curves").read(op_id)
    assert stored == rows(range(1, 201))
    size = (tmp_path / "curves" / f"{op_id}{SUFFIX}").stat().st_size
    header = size - 200 * record_size()
    assert record_size() == 40 and 0 < header < 100  # 40 bytes an epoch, one short header


def test_a_cancelled_trainings_curve_is_answered_after_a_restart(tmp_path: Path) -> None:
    """Item 3: the chart of a cancelled training survives the backend's restart."""
    first = Backend(tmp_path)
    op_id = first.training(epochs=50)
    for epoch in range(1, 31):
        report_epoch(first.service, op_id, epoch, 50)
    first.service.cancel(op_id)
    first.service.finish_cancelled(op_id, stopped_at="Epoch 30/50")
    first.close()

    again = Backend(tmp_path)  # a new process: nothing in memory
    try:
        answer = training_history(again.service, again.keeper, op_id, None)
        assert answer.status == "cancelled" and answer.epochs_total == 50
        assert [e.epoch for e in answer.epochs] == list(range(1, 31))
        assert answer.epochs[9] == EpochFigures(epoch=10, **figures_of(10))
        later = training_history(again.service, again.keeper, op_id, 25, max_points=30)
        assert [e.epoch for e in later.epochs] == list(range(26, 31))
    finally:
        again.close()


def test_a_completed_trainings_curve_is_removed_its_result_holding_the_history(
    backend: Backend, tmp_path: Path
) -> None:
    """Item 3: completed trainings leave no curve file behind (their result has it)."""
    op_id = backend.training(epochs=3)
    for epoch in (1, 2, 3):
        report_epoch(backend.service, op_id, epoch, 3)
    backend.keeper.flush()
    path = tmp_path / "curves" / f"{op_id}{SUFFIX}"
    assert path.exists()
    history = tuple(EpochFigures(epoch=n, **figures_of(n)) for n in (1, 2, 3))
    backend.service.complete(op_id, TrainingSummary(epochs_total=3, history=history).to_dict())
    backend.keeper.flush()
    assert not path.exists()
    assert [
        e.epoch for e in training_history(backend.service, backend.keeper, op_id, None).epochs
    ] == [1, 2, 3]


def test_forgetting_a_training_removes_its_curve(backend: Backend, tmp_path: Path) -> None:
    """Item 3: removing an operation's data (pruning) removes its curve too."""
    op_id = backend.training(epochs=10)
    report_epoch(backend.service, op_id, 1, 10)
    backend.service.fail(op_id, "boom")
    backend.keeper.flush()
    assert (tmp_path / "curves" / f"{op_id}{SUFFIX}").exists()
    backend.keeper.forget(op_id)
    assert not (tmp_path / "curves" / f"{op_id}{SUFFIX}").exists()
    assert backend.keeper.epochs(op_id) is None


# --- damaged files ----------------------------------------------------------------------------


OP = "op_training_20260301_120000_0badf00d"


@pytest.fixture
def curves(tmp_path: Path) -> CurveFiles:
    store = CurveFiles(tmp_path / "curves")
    store.append(OP, rows(range(1, 101)))
    return store


def curve_path(curves: CurveFiles) -> Path:
    path = curves.path_of(OP)
    assert path is not None
    return path


def test_a_truncated_curve_serves_its_whole_records_and_takes_appends_again(
    curves: CurveFiles,
) -> None:
    """Item 3: a write cut short loses its own record, nothing before it or after it."""
    path = curve_path(curves)
    os.truncate(path, path.stat().st_size - 13)  # the last record torn
    assert curves.read(OP) == rows(range(1, 100))
    curves.append(OP, rows(range(101, 103)))
    assert curves.read(OP) == rows(range(1, 100)) + rows(range(101, 103))


def test_a_damaged_record_is_skipped_and_its_neighbours_served(curves: CurveFiles) -> None:
    """Item 3: a flipped byte costs one epoch, detected by its checksum."""
    path = curve_path(curves)
    data = bytearray(path.read_bytes())
    header = len(data) - 100 * record_size()
    data[header + 49 * record_size() + 9] ^= 0xFF  # inside epoch 50's first figure
    path.write_bytes(bytes(data))
    assert [row.epoch for row in curves.read(OP) or []] == [n for n in range(1, 101) if n != 50]


def test_an_unreadable_curve_answers_no_epochs_through_the_route_read(tmp_path: Path) -> None:
    """Item 3: garbage where a curve should be never breaks the history endpoint's read."""
    first = Backend(tmp_path)
    op_id = first.training(epochs=10)
    report_epoch(first.service, op_id, 1, 10)
    first.service.fail(op_id, "boom")
    first.close()
    (tmp_path / "curves" / f"{op_id}{SUFFIX}").write_bytes(os.urandom(333))
    again = Backend(tmp_path)
    try:
        answer = training_history(again.service, again.keeper, op_id, None, max_points=50)
        assert answer.status == OperationStatus.FAILED.value and answer.epochs == []
    finally:
        again.close()


def test_names_that_are_not_operation_ids_never_reach_the_disk(curves: CurveFiles) -> None:
    """Item 3: the operation id from a URL is not a path."""
    for name in ("../ktrdr", "a/b", ".hidden", ""):
        assert curves.read(name) is None
        with pytest.raises(ValueError):
            curves.append(name, rows(range(1, 2)))
