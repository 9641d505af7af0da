"""The training-history keeper fed by a real OperationsService (in-memory store), and the
read that answers the history route (keeper while running, result once completed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ktrdr.errors import InvalidRequestError, OperationNotFoundError
from ktrdr.jobs.pictures import training_history
from ktrdr.operations import training_history as keeper_module
from ktrdr.operations.progress import ProgressUpdate
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.operations.training_history import TrainingHistory
from ktrdr.records.contexts import TrainingProgressContext
from ktrdr.records.models import Operation, OperationType
from ktrdr.records.results import EpochFigures, TrainingSummary


@pytest.fixture
def service() -> Iterator[OperationsService]:
    service = OperationsService(InMemoryOperationStore())
    yield service
    service.close()


@pytest.fixture
def keeper(service: OperationsService) -> TrainingHistory:
    keeper = TrainingHistory()
    service.add_listener(keeper.observe)
    return keeper


def running_training(service: OperationsService, epochs: int = 10) -> str:
    op = service.create(OperationType.TRAINING, parameters={"epochs": epochs})
    service.start(op.operation_id)
    return op.operation_id


def report_epoch(service: OperationsService, op_id: str, epoch: int, total: int = 10) -> None:
    context = TrainingProgressContext(
        epoch=epoch,
        total_epochs=total,
        train_loss=1.0 / epoch,
        val_loss=1.5 / epoch,
        train_accuracy=0.5 + epoch / 100,
        val_accuracy=0.4 + epoch / 100,
    )
    service.update_progress(
        op_id,
        ProgressUpdate(epoch / total * 100, f"Epoch {epoch}/{total}", context=context.to_dict()),
    )


def epochs_of(keeper: TrainingHistory, op_id: str, since: int | None = None) -> list[int]:
    got = keeper.epochs(op_id, since)
    assert got is not None
    return [row.epoch for row in got.epochs if row.epoch is not None]


def test_epochs_are_kept_in_order_as_reports_arrive(
    service: OperationsService, keeper: TrainingHistory
) -> None:
    op_id = running_training(service)
    started = keeper.epochs(op_id)
    assert started is not None and started.epochs == ()  # followed, nothing reported yet
    for epoch in (1, 2, 3):
        report_epoch(service, op_id, epoch)
    got = keeper.epochs(op_id)
    assert got is not None and got.epochs_total == 10
    assert [row.epoch for row in got.epochs] == [1, 2, 3]
    assert got.epochs[1].val_loss == pytest.approx(0.75)
    assert epochs_of(keeper, op_id, since=2) == [3]
    assert epochs_of(keeper, op_id, since=3) == []


def test_a_missed_epoch_is_absent_and_a_repeat_or_late_one_is_ignored(
    service: OperationsService, keeper: TrainingHistory
) -> None:
    op_id = running_training(service)
    for epoch in (1, 3, 3, 2, 5):  # 2 and 4 coalesced away; a replayed 3; a late 2
        report_epoch(service, op_id, epoch)
    assert epochs_of(keeper, op_id) == [1, 3, 5]


def test_a_report_without_an_epoch_adds_nothing(
    service: OperationsService, keeper: TrainingHistory
) -> None:
    op_id = running_training(service)
    loading = TrainingProgressContext(phase="loading").to_dict()
    service.update_progress(op_id, ProgressUpdate(0.0, "Loading", context=loading))
    report_epoch(service, op_id, 1)
    service.update_progress(op_id, ProgressUpdate(50.0, "no context"))  # context kept
    assert epochs_of(keeper, op_id) == [1]


def test_other_kinds_are_not_followed(service: OperationsService, keeper: TrainingHistory) -> None:
    op = service.create(OperationType.BACKTESTING)
    service.start(op.operation_id)
    service.update_progress(op.operation_id, ProgressUpdate(10.0, "Bar 1/10"))
    assert keeper.epochs(op.operation_id) is None
    assert keeper.followed() == 0


def test_a_completed_training_is_let_go_and_its_result_answers(
    service: OperationsService, keeper: TrainingHistory
) -> None:
    op_id = running_training(service, epochs=3)
    for epoch in (1, 3):  # the live view missed epoch 2
        report_epoch(service, op_id, epoch, total=3)
    assert keeper.followed() == 1
    live = training_history(service, keeper, op_id, None)
    assert live.status == "running" and [e.epoch for e in live.epochs] == [1, 3]
    history = tuple(EpochFigures(epoch=n, train_loss=1.0 / n) for n in (1, 2, 3))
    service.complete(op_id, TrainingSummary(epochs_total=3, history=history).to_dict())
    assert keeper.followed() == 0
    done = training_history(service, keeper, op_id, None)
    assert done.status == "completed" and done.epochs_total == 3
    assert [e.epoch for e in done.epochs] == [1, 2, 3]  # the whole history, from the result
    assert [e.epoch for e in training_history(service, keeper, op_id, 1).epochs] == [2, 3]


def test_a_cancelled_training_still_answers_what_it_reported(
    service: OperationsService, keeper: TrainingHistory
) -> None:
    op_id = running_training(service)
    for epoch in (1, 2):
        report_epoch(service, op_id, epoch)
    service.cancel(op_id)
    service.finish_cancelled(op_id, stopped_at="Epoch 2/10")
    answer = training_history(service, keeper, op_id, None)
    assert answer.status == "cancelled"
    assert [e.epoch for e in answer.epochs] == [1, 2]
    assert answer.epochs_total == 10


def test_ended_trainings_are_remembered_only_a_few_at_a_time(
    service: OperationsService, keeper: TrainingHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keeper_module, "ENDED_REMEMBERED", 2)
    ids = [running_training(service) for _ in range(3)]
    for op_id in ids:
        report_epoch(service, op_id, 1)
        service.fail(op_id, "boom")
    assert keeper.epochs(ids[0]) is None  # the oldest ended one was let go
    assert epochs_of(keeper, ids[1]) == [1] and epochs_of(keeper, ids[2]) == [1]


def test_a_long_training_keeps_a_bounded_thinned_history_with_the_newest_epoch(
    service: OperationsService, keeper: TrainingHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keeper_module, "MAX_EPOCHS_KEPT", 10)
    op_id = running_training(service, epochs=100)
    for epoch in range(1, 101):
        report_epoch(service, op_id, epoch, total=100)
    kept = epochs_of(keeper, op_id)
    assert len(kept) <= 10
    assert kept == sorted(set(kept)) and kept[-1] == 100 and kept[0] == 1


def test_the_history_read_refuses_other_kinds_and_unknown_ids(
    service: OperationsService, keeper: TrainingHistory
) -> None:
    backtest = service.create(OperationType.BACKTESTING)
    with pytest.raises(InvalidRequestError) as refused:
        training_history(service, keeper, backtest.operation_id, None)
    assert refused.value.code == "not_a_training"
    with pytest.raises(OperationNotFoundError):
        training_history(service, keeper, "op_training_20240101_000000_deadbeef", None)


def test_a_pending_training_answers_no_epochs_and_its_planned_total(
    service: OperationsService, keeper: TrainingHistory
) -> None:
    op = service.create(OperationType.TRAINING, parameters={"epochs": 7})
    answer = training_history(service, keeper, op.operation_id, None)
    assert answer.status == "pending" and answer.epochs == [] and answer.epochs_total == 7


def test_a_failing_listener_never_fails_the_report(service: OperationsService) -> None:
    seen: list[Operation] = []

    def broken(op: Operation) -> None:
        seen.append(op)
        raise RuntimeError("a reader's bug")

    service.add_listener(broken)
    op_id = running_training(service)
    report_epoch(service, op_id, 1)
    assert service.get(op_id).progress.context["epoch"] == 1
    assert [op.version for op in seen] == sorted(op.version for op in seen) and len(seen) >= 2
