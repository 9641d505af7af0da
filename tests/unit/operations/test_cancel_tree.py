"""A cancel reaches down the tree: open descendants are asked or cancelled, finished ones
stay, and no new child starts under a parent that is being cancelled."""

from __future__ import annotations

import pytest

from ktrdr.errors import ConflictError
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationStatus
from tests.unit.operations.arrange import BACKTESTING, TRAINING, running, running_with_child, stored


def test_cancelling_a_parent_cancels_its_open_descendants(
    service: OperationsService, store: InMemoryOperationStore
) -> None:
    parent = running(service)
    pid = parent.operation_id
    child = running(service, parent=pid)
    grandchild_running = running(service, parent=child.operation_id)
    grandchild_pending = service.create(BACKTESTING, parent_operation_id=child.operation_id)
    pending_child = service.create(BACKTESTING, parent_operation_id=pid)
    finished_child = running(service, parent=pid)
    service.complete(finished_child.operation_id)
    stranger = running(service)
    open_ids = [
        pid,
        child.operation_id,
        grandchild_running.operation_id,
        grandchild_pending.operation_id,
        pending_child.operation_id,
    ]
    tokens = {i: service.token(i) for i in open_ids}
    before = {i: service.get(i) for i in [*open_ids, finished_child.operation_id]}

    service.cancel(pid)

    for op_id in (pid, child.operation_id, grandchild_running.operation_id):
        op = service.get(op_id)
        assert (op.status, op.cancel_requested) == (OperationStatus.RUNNING, True), op_id
        assert op.version == before[op_id].version + 1
    for op_id in (grandchild_pending.operation_id, pending_child.operation_id):
        op = service.get(op_id)
        assert op.status is OperationStatus.CANCELLED, op_id
        assert op.version == before[op_id].version + 1
    assert all(token.is_cancelled for token in tokens.values())
    assert service.get(finished_child.operation_id) == before[finished_child.operation_id]
    assert not service.get(stranger.operation_id).cancel_requested
    assert not service.token(stranger.operation_id).is_cancelled
    # What the service says is what the store holds (status changes write through).
    for op_id in open_ids:
        assert stored(store, op_id) == service.get(op_id)


def test_a_cancel_reaches_open_work_below_a_child_that_already_failed(
    service: OperationsService,
) -> None:
    # Found by the state machine: root -> child (failed) -> grandchild (running) ->
    # great-grandchild (pending). The failed child has no open links to follow.
    root, child = running_with_child(service)
    grandchild = service.create(TRAINING, parent_operation_id=child.operation_id)
    service.fail(child.operation_id, "boom")
    service.start(grandchild.operation_id)
    great = service.create(BACKTESTING, parent_operation_id=grandchild.operation_id)

    service.cancel(root.operation_id)

    asked = service.get(grandchild.operation_id)
    assert (asked.status, asked.cancel_requested) == (OperationStatus.RUNNING, True)
    assert service.token(grandchild.operation_id).is_cancelled
    assert service.get(great.operation_id).status is OperationStatus.CANCELLED
    assert service.get(child.operation_id).status is OperationStatus.FAILED


def test_a_parent_that_stops_on_its_own_takes_its_children_along(
    service: OperationsService,
) -> None:
    # No cancel() first: the worker itself decided to stop (finish_cancelled directly).
    parent, child = running_with_child(service)
    waiting = service.create(BACKTESTING, parent_operation_id=parent.operation_id)
    child_token = service.token(child.operation_id)

    service.finish_cancelled(parent.operation_id, stopped_at="Designing")

    assert service.get(parent.operation_id).status is OperationStatus.CANCELLED
    asked = service.get(child.operation_id)
    assert (asked.status, asked.cancel_requested) == (OperationStatus.RUNNING, True)
    assert child_token.is_cancelled
    assert service.get(waiting.operation_id).status is OperationStatus.CANCELLED


def test_no_new_child_under_a_parent_being_cancelled(service: OperationsService) -> None:
    parent = running(service)
    service.cancel(parent.operation_id)
    with pytest.raises(ConflictError) as info:
        service.create(TRAINING, parent_operation_id=parent.operation_id)
    assert info.value.code == "parent_cancelling"
    assert service.children(parent.operation_id) == []
