"""An operation's life: created pending, started once, ended once; unknown ids are not found;
an ended operation never changes again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from ktrdr.errors import ConflictError, OperationFinishedError, OperationNotFoundError
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import Operation, OperationStatus
from tests.support.progress import progress, report
from tests.unit.operations.arrange import BACKTESTING, TRAINING, running, stored


def test_create_makes_a_pending_operation_and_persists_it(
    service: OperationsService, store: InMemoryOperationStore
) -> None:
    params = {"symbol": "SP500", "epochs": 10}
    op = service.create(TRAINING, parameters=params)
    params["epochs"] = 99  # the caller's dict is not shared with the operation

    assert op.operation_id.startswith("op_training_")
    assert op.status is OperationStatus.PENDING
    assert op.version == 1
    assert op.progress.percentage == 0.0
    assert op.started_at is None and op.completed_at is None
    assert service.get(op.operation_id).metadata.parameters == {"symbol": "SP500", "epochs": 10}
    assert stored(store, op.operation_id) == service.get(op.operation_id)


def test_ids_are_unique() -> None:
    svc = OperationsService(InMemoryOperationStore())
    try:
        ids = {svc.create(TRAINING).operation_id for _ in range(200)}
    finally:
        svc.close()
    assert len(ids) == 200


def test_returned_operations_are_copies(service: OperationsService) -> None:
    op = running(service)
    with pytest.raises(ValidationError):
        op.progress.percentage = 77.0  # type: ignore[misc]
    op.metadata.parameters["leak"] = True
    again = service.get(op.operation_id)
    assert again.progress.percentage == 0.0
    assert "leak" not in again.metadata.parameters


def test_start_runs_once(service: OperationsService) -> None:
    op = service.create(TRAINING)
    started = service.start(op.operation_id)
    assert started.status is OperationStatus.RUNNING
    assert started.started_at is not None
    with pytest.raises(ConflictError) as info:
        service.start(op.operation_id)
    assert info.value.code == "operation_not_pending"
    assert not isinstance(info.value, OperationFinishedError)


def test_unknown_ids_raise_not_found(service: OperationsService) -> None:
    calls: list[Callable[[], object]] = [
        lambda: service.get("op_nope"),
        lambda: service.start("op_nope"),
        lambda: progress(service, "op_nope", 10),
        lambda: report(service, "op_nope", 10),
        lambda: service.update_parameters("op_nope", {"a": 1}),
        lambda: service.complete("op_nope"),
        lambda: service.fail("op_nope", "x"),
        lambda: service.cancel("op_nope"),
        lambda: service.finish_cancelled("op_nope"),
        lambda: service.children("op_nope"),
        lambda: service.token("op_nope"),
        lambda: service.create(TRAINING, parent_operation_id="op_nope"),
    ]
    for call in calls:
        with pytest.raises(OperationNotFoundError) as info:
            call()
        assert info.value.code == "operation_not_found"
        assert info.value.details == {"operation_id": "op_nope"}


def test_complete_before_start_is_a_conflict(service: OperationsService) -> None:
    op = service.create(TRAINING)
    with pytest.raises(ConflictError) as info:
        service.complete(op.operation_id)
    assert info.value.code == "operation_not_running"
    assert service.get(op.operation_id).status is OperationStatus.PENDING


def test_fail_records_the_message(service: OperationsService) -> None:
    op = running(service)
    progress(service, op.operation_id, 40)
    failed = service.fail(op.operation_id, "training diverged", {"epoch": 4})
    assert failed.status is OperationStatus.FAILED
    assert failed.error_message == "training diverged"
    assert failed.result_summary == {"epoch": 4}
    assert failed.progress.percentage == 40.0
    assert failed.completed_at is not None


def test_a_pending_operation_can_fail(service: OperationsService) -> None:
    op = service.create(TRAINING)
    assert service.fail(op.operation_id, "bad input").status is OperationStatus.FAILED


# ----------------------------------------------------------------------------- terminal


def _terminal_operation(service: OperationsService, status: OperationStatus) -> Operation:
    op = running(service)
    progress(service, op.operation_id, 25, "Epoch 1/4")
    if status is OperationStatus.COMPLETED:
        return service.complete(op.operation_id, {"ok": True})
    if status is OperationStatus.FAILED:
        return service.fail(op.operation_id, "boom")
    service.cancel(op.operation_id)
    return service.finish_cancelled(op.operation_id, stopped_at="Epoch 1/4")


MUTATORS: dict[str, Callable[[OperationsService, str], object]] = {
    "start": lambda s, i: s.start(i),
    "update_progress": lambda s, i: progress(s, i, 50),
    "update_progress_with_parameters": lambda s, i: progress(s, i, 50, parameters={"a": 1}),
    "report_progress": lambda s, i: report(s, i, 50),
    "update_parameters": lambda s, i: s.update_parameters(i, {"a": 1}),
    "complete": lambda s, i: s.complete(i, {"late": True}),
    "fail": lambda s, i: s.fail(i, "late failure"),
    "cancel": lambda s, i: s.cancel(i),
    "finish_cancelled": lambda s, i: s.finish_cancelled(i, stopped_at="later"),
    "create_child": lambda s, i: s.create(BACKTESTING, parent_operation_id=i),
}
# A cancelled operation answers a repeated cancel (or acknowledgement) with itself.
IDEMPOTENT_WHEN_CANCELLED = {"cancel", "finish_cancelled"}


@pytest.mark.parametrize(
    "status", [OperationStatus.COMPLETED, OperationStatus.FAILED, OperationStatus.CANCELLED]
)
@pytest.mark.parametrize("mutator", sorted(MUTATORS))
def test_terminal_statuses_never_change(
    service: OperationsService,
    store: InMemoryOperationStore,
    status: OperationStatus,
    mutator: str,
) -> None:
    op = _terminal_operation(service, status)
    assert op.status is status
    writes = store.writes
    if status is OperationStatus.CANCELLED and mutator in IDEMPOTENT_WHEN_CANCELLED:
        again = MUTATORS[mutator](service, op.operation_id)
        assert again == op
    else:
        with pytest.raises(OperationFinishedError) as info:
            MUTATORS[mutator](service, op.operation_id)
        assert isinstance(info.value, ConflictError)  # a 409 on the wire
        assert info.value.code == "operation_already_finished"
        assert info.value.details["operation_id"] == op.operation_id
    assert service.get(op.operation_id) == op
    assert stored(store, op.operation_id) == op
    assert store.writes == writes
    assert service.children(op.operation_id) == []
