"""What a stop does to open work: a restart finds a cancel the API acknowledged and ends the
work cancelled (and every open operation below it), not failed; a clean shutdown refuses
new work, ends what runs naming the shutdown and tells the workers to stop."""

from __future__ import annotations

import pytest

from ktrdr.errors import ShuttingDownError
from ktrdr.operations.recovery import RESTART_MESSAGE, SHUTDOWN_MESSAGE
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import Operation, OperationStatus
from tests.support.progress import progress
from tests.unit.operations.arrange import AGENT, TRAINING, running, stored


def _flagged(store: InMemoryOperationStore, op: Operation) -> Operation:
    """``op`` with its cancel request on disk but nothing else changed: a write that a kill
    left behind (the cascade writes each child's flag separately)."""
    flagged = op.model_copy(update={"cancel_requested": True, "version": op.version + 1})
    store.save_many([flagged])
    return flagged


def test_a_requested_cancel_comes_back_cancelled_after_a_kill(
    store: InMemoryOperationStore,
) -> None:
    """Item 2 (issue 21): a cancel the API acknowledged survives a kill as CANCELLED."""
    first = OperationsService(store, cancel_grace_seconds=60)
    asked = running(first)
    progress(first, asked.operation_id, 40, "Epoch 4/10")
    first.cancel(asked.operation_id)
    plain = running(first)
    # No close(): the process died with the worker still running.

    second = OperationsService(store)
    try:
        op = second.get(asked.operation_id)
        assert op.status is OperationStatus.CANCELLED, op
        assert op.error_message is None
        assert op.completed_at is not None and op.cancel_requested
        assert (op.result_summary or {}).get("stopped_at") == "Epoch 4/10"
        assert "restart" in str((op.result_summary or {}).get("reason"))
        assert stored(store, asked.operation_id) == op  # written back, not only in memory
        # Work nobody asked to stop still fails, saying where it was.
        assert second.get(plain.operation_id).status is OperationStatus.FAILED
        assert (second.get(plain.operation_id).error_message or "").startswith(RESTART_MESSAGE)
        assert set(second.recovered) == {asked.operation_id, plain.operation_id}
    finally:
        second.close()


def test_open_children_of_a_cancelled_or_cancelling_parent_come_back_cancelled(
    store: InMemoryOperationStore,
) -> None:
    """Item 2 (issue 21): a cycle's open children follow their parent's acknowledged cancel."""
    first = OperationsService(store, cancel_grace_seconds=60)
    cycle = running(first)
    training = running(first, parent=cycle.operation_id)
    backtest = first.create(TRAINING, parent_operation_id=cycle.operation_id)
    grandchild = running(first, parent=training.operation_id)
    # On disk only the cycle's flag: its children's writes were lost.
    _flagged(store, first.get(cycle.operation_id))
    # A second tree whose root ended cancelled while its child's end was never written.
    ended = running(first)
    orphan = running(first, parent=ended.operation_id)
    root = first.get(ended.operation_id)
    store.save_many([root.model_copy(update={"status": OperationStatus.CANCELLED, "version": 99})])

    second = OperationsService(store)
    try:
        for op_id in (
            cycle.operation_id,
            training.operation_id,
            backtest.operation_id,
            grandchild.operation_id,
            orphan.operation_id,
        ):
            assert second.get(op_id).status is OperationStatus.CANCELLED, op_id
    finally:
        second.close()


def test_a_shutdown_refuses_new_work_and_ends_open_work_naming_the_shutdown(
    service: OperationsService,
) -> None:
    """Item 1 (issue 21): a clean shutdown ends running work as interrupted by a shutdown."""
    cycle = service.create(AGENT)
    service.start(cycle.operation_id)
    child = running(service, parent=cycle.operation_id)
    progress(service, child.operation_id, 30, "Epoch 3/10")
    asked = running(service)
    service.cancel(asked.operation_id)
    token = service.token(child.operation_id)

    ended = service.shut_down()

    assert set(ended) == {cycle.operation_id, child.operation_id, asked.operation_id}
    failed = service.get(child.operation_id)
    assert failed.status is OperationStatus.FAILED
    assert (failed.error_message or "").startswith(SHUTDOWN_MESSAGE)
    assert "30% done: Epoch 3/10" in (failed.error_message or "")
    assert service.get(cycle.operation_id).status is OperationStatus.FAILED
    # A cancel already acknowledged ends as what it was asked to be.
    assert service.get(asked.operation_id).status is OperationStatus.CANCELLED
    assert token.is_cancelled  # its worker stops instead of running on to the end
    assert service.open_operations() == []
    with pytest.raises(ShuttingDownError) as refused:
        service.create(TRAINING)
    assert refused.value.code == "shutting_down"


def test_stop_accepting_is_immediate_and_leaves_running_work_alone(
    service: OperationsService,
) -> None:
    """Item 1 (issue 21): from the signal on, new work is refused while running work goes on."""
    op = running(service)
    service.stop_accepting()
    assert service.shutting_down
    with pytest.raises(ShuttingDownError):
        service.create(TRAINING)
    progress(service, op.operation_id, 50, "Epoch 5/10")  # running work still reports
    assert service.get(op.operation_id).status is OperationStatus.RUNNING
