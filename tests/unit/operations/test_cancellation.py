"""Cancelling one operation: immediate when pending, a request to the worker when running,
idempotent, recorded where it stopped, and forced after the grace period if unanswered."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ktrdr.errors import ConflictError, OperationFinishedError
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import Operation, OperationStatus
from tests.support.progress import progress
from tests.support.waiting import wait_until
from tests.unit.operations.arrange import TRAINING, running


def test_cancel_of_a_pending_operation_is_immediate(service: OperationsService) -> None:
    op = service.create(TRAINING)
    token = service.token(op.operation_id)
    cancelled = service.cancel(op.operation_id)
    assert cancelled.status is OperationStatus.CANCELLED
    assert cancelled.cancel_requested
    assert cancelled.completed_at is not None
    assert cancelled.result_summary == {"stopped_at": "before it started"}
    assert token.is_cancelled
    assert cancelled.version == op.version + 1


def test_cancel_of_a_running_operation_asks_the_worker(service: OperationsService) -> None:
    op = running(service)
    token = service.token(op.operation_id)
    assert not token.is_cancelled
    asked = service.cancel(op.operation_id, "user pressed Ctrl+C")
    assert asked.status is OperationStatus.RUNNING
    assert asked.cancel_requested
    assert asked.version == op.version + 1
    assert token.is_cancelled
    assert token.reason == "user pressed Ctrl+C"
    # The worker still reports until it reaches a checkpoint.
    assert progress(service, op.operation_id, 30).progress.percentage == 30.0


def test_cancel_is_idempotent_while_cancelling_and_once_cancelled(
    service: OperationsService, store: InMemoryOperationStore
) -> None:
    op = running(service)
    first = service.cancel(op.operation_id)
    writes = store.writes
    assert service.cancel(op.operation_id) == first
    assert service.cancel(op.operation_id, "another reason") == first
    assert store.writes == writes

    done = service.finish_cancelled(op.operation_id, stopped_at="Epoch 2/10")
    assert done.version == first.version + 1
    assert service.cancel(op.operation_id) == done
    assert service.finish_cancelled(op.operation_id, stopped_at="elsewhere") == done
    assert service.get(op.operation_id).result_summary == {"stopped_at": "Epoch 2/10"}


@pytest.mark.parametrize("end", ["complete", "fail"])
def test_cancel_of_a_completed_or_failed_operation_is_a_conflict(
    service: OperationsService, end: str
) -> None:
    op = running(service)
    if end == "complete":
        service.complete(op.operation_id)
    else:
        service.fail(op.operation_id, "boom")
    before = service.get(op.operation_id)
    with pytest.raises(OperationFinishedError) as info:
        service.cancel(op.operation_id)
    assert isinstance(info.value, ConflictError)
    assert info.value.details["status"] == before.status.value
    assert service.get(op.operation_id) == before
    assert not service.token(op.operation_id).is_cancelled


def test_finish_cancelled_records_where_the_work_stopped(service: OperationsService) -> None:
    op = running(service)
    progress(service, op.operation_id, 67, "Epoch 67/100")
    service.cancel(op.operation_id)
    done = service.finish_cancelled(
        op.operation_id,
        stopped_at="Epoch 67/100",
        result_summary={"reason": "Cancelled by user"},
        parameters={"epochs_done": 67},
    )
    assert done.status is OperationStatus.CANCELLED
    assert done.result_summary == {"stopped_at": "Epoch 67/100", "reason": "Cancelled by user"}
    assert done.metadata.parameters["epochs_done"] == 67
    assert done.progress.percentage == 67.0
    assert done.completed_at is not None


def test_tokens_handed_out_after_a_cancel_are_already_set(service: OperationsService) -> None:
    op = running(service)
    service.cancel(op.operation_id)
    assert service.token(op.operation_id).is_cancelled
    pending = service.create(TRAINING)
    service.cancel(pending.operation_id)
    assert service.token(pending.operation_id).is_cancelled


@pytest.fixture
def impatient() -> Iterator[OperationsService]:
    # A grace short enough for a test to watch an unanswered cancel being forced.
    svc = OperationsService(InMemoryOperationStore(), cancel_grace_seconds=0.05)
    yield svc
    svc.close()


def _forced(svc: OperationsService, percentage: float, step: str | None = None) -> Operation:
    """A running operation at ``percentage`` whose worker never answers the cancel, once
    the service has forced it."""
    op = running(svc)
    progress(svc, op.operation_id, percentage, step)
    svc.cancel(op.operation_id)
    assert wait_until(lambda: svc.get(op.operation_id).is_terminal, timeout=5)
    return svc.get(op.operation_id)


def test_unacknowledged_cancel_is_forced_after_the_grace_period(
    impatient: OperationsService,
) -> None:
    forced = _forced(impatient, 40, "Epoch 4/10")
    assert forced.status is OperationStatus.CANCELLED
    assert forced.result_summary == {"stopped_at": "Epoch 4/10", "forced": True}
    assert forced.completed_at is not None
    # The worker that never listened finds its operation closed.
    with pytest.raises(OperationFinishedError):
        progress(impatient, forced.operation_id, 50)
    assert impatient.finish_cancelled(forced.operation_id, stopped_at="Epoch 5/10") == forced


def test_a_forced_cancel_without_a_step_names_the_percentage(impatient: OperationsService) -> None:
    assert _forced(impatient, 12.4).result_summary == {"stopped_at": "12%", "forced": True}


def test_an_acknowledged_cancel_is_not_forced_later() -> None:
    svc = OperationsService(InMemoryOperationStore(), cancel_grace_seconds=0.1)
    try:
        op = svc.create(TRAINING)
        svc.start(op.operation_id)
        svc.cancel(op.operation_id)
        done = svc.finish_cancelled(op.operation_id, stopped_at="Epoch 1/10")
        time.sleep(0.3)  # well past the grace period
        assert svc.get(op.operation_id) == done
        assert done.result_summary == {"stopped_at": "Epoch 1/10"}
    finally:
        svc.close()
