"""OperationsService rules, driven through the in-memory store (no I/O, no mocks)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from ktrdr.errors import (
    ConflictError,
    InvalidRequestError,
    OperationFinishedError,
    OperationNotFoundError,
)
from ktrdr.operations.models import Operation, OperationStatus, OperationType
from ktrdr.operations.recovery import RESTART_MESSAGE
from ktrdr.operations.service import RUNNING_PROGRESS_CAP, OperationsService
from ktrdr.operations.sqlite_store import SqliteOperationStore
from ktrdr.operations.store import InMemoryOperationStore, OperationStore
from ktrdr.operations.summary import OperationSummary
from ktrdr.operations.write_behind import WriteBehindStore
from tests.support.progress import progress, report
from tests.support.stores import PassThroughStore

TRAINING = OperationType.TRAINING
BACKTESTING = OperationType.BACKTESTING
AGENT = OperationType.AGENT_RESEARCH


class SteppingClock:
    """Every reading is one second after the previous one, so creation order is explicit."""

    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def store() -> InMemoryOperationStore:
    return InMemoryOperationStore()


@pytest.fixture
def service(store: InMemoryOperationStore) -> Iterator[OperationsService]:
    # A long grace: nothing is force-cancelled unless a test asks for it.
    svc = OperationsService(store, cancel_grace_seconds=60)
    yield svc
    svc.close()


def running(service: OperationsService, parent: str | None = None) -> Operation:
    op = service.create(TRAINING, parent_operation_id=parent)
    return service.start(op.operation_id)


def stored(store: InMemoryOperationStore, operation_id: str) -> Operation:
    op = store.get(operation_id)
    assert op is not None, f"{operation_id} is not in the store"
    return op


# ----------------------------------------------------------------------------- lifecycle


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


def test_progress_is_recorded_while_running(service: OperationsService) -> None:
    op = running(service)
    after = progress(
        service,
        op.operation_id,
        42.5,
        "Epoch 3/10",
        items_processed=3,
        items_total=10,
        context={"phase": "training"},
    )
    assert after.progress.percentage == 42.5
    assert after.progress.current_step == "Epoch 3/10"
    assert (after.progress.items_processed, after.progress.items_total) == (3, 10)
    assert after.progress.context == {"phase": "training"}
    # A report without a step or context keeps the previous ones.
    kept = progress(service, op.operation_id, 50)
    assert kept.progress.current_step == "Epoch 3/10"
    assert kept.progress.context == {"phase": "training"}


def test_progress_before_start_is_a_conflict(service: OperationsService) -> None:
    op = service.create(TRAINING)
    with pytest.raises(ConflictError) as info:
        progress(service, op.operation_id, 10)
    assert info.value.code == "operation_not_running"
    assert service.get(op.operation_id).version == 1


@pytest.mark.parametrize("value", [-0.001, -1, -1e300, 100.0001, 101, 1e300])
def test_percentage_out_of_bounds_is_rejected(service: OperationsService, value: float) -> None:
    op = running(service)
    progress(service, op.operation_id, 30)
    before = service.get(op.operation_id)
    with pytest.raises(InvalidRequestError):
        progress(service, op.operation_id, value)
    with pytest.raises(InvalidRequestError):
        report(service, op.operation_id, value)
    assert service.get(op.operation_id) == before


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_percentage_is_rejected(service: OperationsService, value: float) -> None:
    op = running(service)
    before = service.get(op.operation_id)
    with pytest.raises(InvalidRequestError):
        progress(service, op.operation_id, value)
    with pytest.raises(InvalidRequestError):
        report(service, op.operation_id, value)
    assert service.get(op.operation_id) == before


def test_percentage_bounds_are_inclusive(service: OperationsService) -> None:
    op = running(service)
    assert progress(service, op.operation_id, 0).progress.percentage == 0.0
    assert progress(service, op.operation_id, 100).progress.percentage < 100.0


def test_progress_never_decreases(service: OperationsService) -> None:
    op = running(service)
    progress(service, op.operation_id, 60, "Epoch 6/10")
    lower = progress(service, op.operation_id, 20, "Epoch 2/10 (replayed)")
    assert lower.progress.percentage == 60.0
    assert report(service, op.operation_id, 10) == lower.version + 1
    assert service.get(op.operation_id).progress.percentage == 60.0


def test_running_progress_is_capped_below_100_and_completion_sets_100(
    service: OperationsService,
) -> None:
    op = running(service)
    capped = progress(service, op.operation_id, 100.0, "last epoch")
    assert capped.progress.percentage == RUNNING_PROGRESS_CAP < 100.0
    assert capped.status is OperationStatus.RUNNING
    progress(service, op.operation_id, 99.99)
    assert service.get(op.operation_id).progress.percentage < 100.0

    done = service.complete(op.operation_id, {"accuracy": 0.61})
    assert done.status is OperationStatus.COMPLETED
    assert done.progress.percentage == 100.0
    assert done.progress.current_step == "last epoch"
    assert done.result_summary == {"accuracy": 0.61}
    assert done.completed_at is not None


def test_completion_from_low_progress_still_reads_100(service: OperationsService) -> None:
    op = running(service)
    progress(service, op.operation_id, 3)
    assert service.complete(op.operation_id).progress.percentage == 100.0


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


# ----------------------------------------------------------------------------- cancellation


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
    root = running(service)
    child = running(service, parent=root.operation_id)
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
    parent = running(service)
    child = running(service, parent=parent.operation_id)
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


def test_tokens_handed_out_after_a_cancel_are_already_set(service: OperationsService) -> None:
    op = running(service)
    service.cancel(op.operation_id)
    assert service.token(op.operation_id).is_cancelled
    pending = service.create(TRAINING)
    service.cancel(pending.operation_id)
    assert service.token(pending.operation_id).is_cancelled


def test_unacknowledged_cancel_is_forced_after_the_grace_period() -> None:
    svc = OperationsService(InMemoryOperationStore(), cancel_grace_seconds=0.05)
    try:
        op = svc.create(TRAINING)
        svc.start(op.operation_id)
        progress(svc, op.operation_id, 40, "Epoch 4/10")
        svc.cancel(op.operation_id)
        assert wait_until(lambda: svc.get(op.operation_id).is_terminal, timeout=5)
        forced = svc.get(op.operation_id)
        assert forced.status is OperationStatus.CANCELLED
        assert forced.result_summary == {"stopped_at": "Epoch 4/10", "forced": True}
        assert forced.completed_at is not None
        # The worker that never listened finds its operation closed.
        with pytest.raises(OperationFinishedError):
            progress(svc, op.operation_id, 50)
        assert svc.finish_cancelled(op.operation_id, stopped_at="Epoch 5/10") == forced
    finally:
        svc.close()


def test_a_forced_cancel_without_a_step_names_the_percentage() -> None:
    svc = OperationsService(InMemoryOperationStore(), cancel_grace_seconds=0.05)
    try:
        op = svc.create(TRAINING)
        svc.start(op.operation_id)
        progress(svc, op.operation_id, 12.4)
        svc.cancel(op.operation_id)
        assert wait_until(lambda: svc.get(op.operation_id).is_terminal, timeout=5)
        assert svc.get(op.operation_id).result_summary == {"stopped_at": "12%", "forced": True}
    finally:
        svc.close()


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


# ----------------------------------------------------------------------------- reads


@pytest.fixture
def clocked() -> Iterator[OperationsService]:
    svc = OperationsService(InMemoryOperationStore(), clock=SteppingClock())
    yield svc
    svc.close()


def _ids(ops: Iterable[Operation | OperationSummary]) -> list[str]:
    return [op.operation_id for op in ops]


def test_list_is_newest_first_with_filters_paging_and_total(
    clocked: OperationsService,
) -> None:
    svc = clocked
    agent = svc.start(svc.create(AGENT).operation_id)
    training = svc.start(svc.create(TRAINING, parent_operation_id=agent.operation_id).operation_id)
    svc.complete(training.operation_id)
    backtest = svc.create(BACKTESTING, parent_operation_id=agent.operation_id)
    lone = svc.create(TRAINING)
    svc.fail(lone.operation_id, "x")
    newest_first = [lone, backtest, training, agent]

    page, total = svc.list_operations()
    assert _ids(page) == _ids(newest_first) and total == 4
    page, total = svc.list_operations(limit=2, offset=1)
    assert _ids(page) == _ids(newest_first[1:3]) and total == 4
    page, total = svc.list_operations(limit=2, offset=10)
    assert page == [] and total == 4
    page, total = svc.list_operations(limit=0)
    assert page == [] and total == 4

    page, total = svc.list_operations(operation_type=TRAINING)
    assert _ids(page) == _ids([lone, training]) and total == 2
    page, total = svc.list_operations(status=OperationStatus.PENDING)
    assert _ids(page) == [backtest.operation_id] and total == 1
    page, total = svc.list_operations(status=OperationStatus.COMPLETED, operation_type=TRAINING)
    assert _ids(page) == [training.operation_id] and total == 1
    page, total = svc.list_operations(parent_operation_id=agent.operation_id)
    assert _ids(page) == _ids([backtest, training]) and total == 2
    page, total = svc.list_operations(status=OperationStatus.CANCELLED)
    assert page == [] and total == 0

    with pytest.raises(InvalidRequestError):
        svc.list_operations(limit=-1)
    with pytest.raises(InvalidRequestError):
        svc.list_operations(offset=-1)


def test_children_are_the_direct_children_oldest_first(clocked: OperationsService) -> None:
    svc = clocked
    parent = svc.start(svc.create(AGENT).operation_id)
    first = svc.create(TRAINING, parent_operation_id=parent.operation_id)
    second = svc.create(BACKTESTING, parent_operation_id=parent.operation_id)
    svc.start(first.operation_id)
    svc.create(BACKTESTING, parent_operation_id=first.operation_id)  # a grandchild
    svc.create(TRAINING)

    kids = svc.children(parent.operation_id)
    assert _ids(kids) == [first.operation_id, second.operation_id]
    assert all(k.parent_operation_id == parent.operation_id for k in kids)
    assert svc.children(second.operation_id) == []


# ----------------------------------------------------------------------------- versions


def test_version_goes_up_by_exactly_one_per_change(service: OperationsService) -> None:
    op = service.create(TRAINING)
    versions = [op.version]

    def step(result: Operation | int) -> None:
        version = result if isinstance(result, int) else result.version
        assert version == versions[-1] + 1
        assert service.get(op.operation_id).version == version
        versions.append(version)

    step(service.update_parameters(op.operation_id, {"a": 1}))
    step(service.start(op.operation_id))
    step(progress(service, op.operation_id, 10, "one"))
    step(progress(service, op.operation_id, 5, "lower still changes the step"))
    step(report(service, op.operation_id, 20))
    step(progress(service, op.operation_id, 30, parameters={"b": 2}))
    step(service.update_parameters(op.operation_id, {"c": 3}))
    step(service.cancel(op.operation_id))
    step(progress(service, op.operation_id, 35))
    step(service.finish_cancelled(op.operation_id, stopped_at="there"))
    assert versions == list(range(1, 12))

    for end in ("complete", "fail"):
        other = running(service)
        if end == "complete":
            assert service.complete(other.operation_id).version == other.version + 1
        else:
            assert service.fail(other.operation_id, "x").version == other.version + 1


def test_rejected_calls_leave_the_version_alone(service: OperationsService) -> None:
    op = running(service)
    before = service.get(op.operation_id)
    for bad in (math.nan, -5, 250):
        with pytest.raises(InvalidRequestError):
            progress(service, op.operation_id, bad)
    with pytest.raises(ConflictError):
        service.start(op.operation_id)
    assert service.get(op.operation_id) == before


def test_update_parameters_merges(service: OperationsService) -> None:
    op = service.create(AGENT, parameters={"symbol": "SP500", "phase": "idle"})
    service.update_parameters(op.operation_id, {"phase": "designing", "seed": 7})
    service.start(op.operation_id)
    merged = progress(
        service, op.operation_id, 10, "Training", parameters={"training_op_id": "op_t"}
    )
    assert merged.metadata.parameters == {
        "symbol": "SP500",
        "phase": "designing",
        "seed": 7,
        "training_op_id": "op_t",
    }
    done = service.complete(op.operation_id, parameters={"phase": "completed"})
    assert done.metadata.parameters["phase"] == "completed"
    assert done.metadata.parameters["training_op_id"] == "op_t"


def test_wait_for_change_returns_the_newer_version(service: OperationsService) -> None:
    op = running(service)
    timer = threading.Timer(0.05, report, args=(service, op.operation_id, 40))
    timer.start()
    try:
        newer = service.wait_for_change(op.operation_id, op.version, timeout=5)
    finally:
        timer.join()
    assert newer.version == op.version + 1
    assert newer.progress.percentage == 40.0
    unchanged = service.wait_for_change(op.operation_id, newer.version, timeout=0.01)
    assert unchanged.version == newer.version


# ----------------------------------------------------------------------------- persistence


def test_restart_marks_open_operations_failed(store: InMemoryOperationStore) -> None:
    first = OperationsService(store, cancel_grace_seconds=60)
    done = running(first)
    done = first.complete(done.operation_id, {"accuracy": 0.7})
    mid = running(first)
    progress(first, mid.operation_id, 40, "Epoch 4/10")
    waiting = first.create(BACKTESTING)
    cancelling = running(first)
    first.cancel(cancelling.operation_id)
    cancelled = first.cancel(first.create(TRAINING).operation_id)
    before = {op.operation_id: op for op in first.list_operations()[0]}
    first.close()

    second = OperationsService(store)
    try:
        interrupted = {mid.operation_id, waiting.operation_id, cancelling.operation_id}
        assert set(second.recovered) == interrupted
        for op_id in interrupted:
            op = second.get(op_id)
            assert op.status is OperationStatus.FAILED, op_id
            assert op.error_message is not None
            assert op.error_message.startswith(RESTART_MESSAGE)
            assert op.completed_at is not None
            assert op.version == before[op_id].version + 1
            assert stored(store, op_id) == op  # written back, not only in memory
        assert "40% done: Epoch 4/10" in (second.get(mid.operation_id).error_message or "")
        assert second.get(done.operation_id) == done
        assert second.get(cancelled.operation_id) == cancelled
    finally:
        second.close()

    third = OperationsService(store)
    try:
        assert third.recovered == []
    finally:
        third.close()


def test_progress_writes_are_coalesced_and_reads_stay_live(
    store: InMemoryOperationStore,
) -> None:
    # A flush interval far longer than the test: only close() may write progress.
    svc = OperationsService(WriteBehindStore(store, flush_interval=60))
    try:
        op = running(svc)
        writes = store.writes
        for i in range(1, 1001):
            progress(svc, op.operation_id, i / 10, f"step {i}")
            assert svc.get(op.operation_id).progress.current_step == f"step {i}"
        assert store.writes == writes
        assert stored(store, op.operation_id).progress.percentage == 0.0
        live = svc.get(op.operation_id)
        assert live.progress.percentage == RUNNING_PROGRESS_CAP
    finally:
        svc.close()
    assert store.writes == writes + 1
    assert stored(store, op.operation_id) == live


def test_the_flusher_persists_progress_in_few_writes(store: InMemoryOperationStore) -> None:
    svc = OperationsService(WriteBehindStore(store, flush_interval=0.02))
    try:
        op = running(svc)
        writes = store.writes
        for i in range(1, 2001):
            report(svc, op.operation_id, i / 40, f"bar {i}")
        latest = svc.get(op.operation_id)
        assert wait_until(lambda: stored(store, op.operation_id) == latest, timeout=5)
        flushes = store.writes - writes
        assert 1 <= flushes < 200, flushes
    finally:
        svc.close()


def test_status_changes_write_through_at_once(store: InMemoryOperationStore) -> None:
    svc = OperationsService(WriteBehindStore(store, flush_interval=60))
    try:
        op = running(svc)
        progress(svc, op.operation_id, 50)
        assert stored(store, op.operation_id).status is OperationStatus.RUNNING
        progress(svc, op.operation_id, 60, parameters={"phase": "training"})
        assert stored(store, op.operation_id).metadata.parameters == {"phase": "training"}
        done = svc.complete(op.operation_id)
        assert stored(store, op.operation_id) == done
    finally:
        svc.close()


class GatedFlushStore(PassThroughStore):
    """Holds the background flusher inside ``save_many`` until released."""

    def __init__(self, inner: OperationStore) -> None:
        super().__init__(inner)
        self.flusher_waiting = threading.Event()
        self.release = threading.Event()

    def save_many(self, operations: Iterable[Operation]) -> None:
        batch = list(operations)
        if batch and threading.current_thread().name == "ktrdr-operations-flusher":
            self.flusher_waiting.set()
            self.release.wait(timeout=10)
        self.inner.save_many(batch)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_late_progress_flush_never_overwrites_a_newer_status(kind: str, tmp_path: Path) -> None:
    def open_store() -> OperationStore:
        if kind == "memory":
            return memory
        return SqliteOperationStore(tmp_path / "ktrdr.db")

    memory = InMemoryOperationStore()
    gated = GatedFlushStore(open_store())
    svc = OperationsService(WriteBehindStore(gated, flush_interval=0.01))
    try:
        op = running(svc)
        progress(svc, op.operation_id, 50, "half way")
        # The flusher now holds a snapshot of the running operation, not yet written...
        assert gated.flusher_waiting.wait(timeout=5)
        done = svc.complete(op.operation_id, {"ok": True})
    finally:
        gated.release.set()  # ...and writes it after the completion went through.
        svc.close()

    after_restart = OperationsService(open_store())
    try:
        assert after_restart.recovered == []
        assert after_restart.get(op.operation_id) == done
    finally:
        after_restart.close()


def test_close_flushes_pending_progress(store: InMemoryOperationStore) -> None:
    svc = OperationsService(WriteBehindStore(store, flush_interval=60))
    ops = [running(svc) for _ in range(3)]
    for n, op in enumerate(ops):
        progress(svc, op.operation_id, 10 * (n + 1), f"op {n}")
    svc.close()
    svc.close()  # closing twice is harmless
    for n, op in enumerate(ops):
        row = stored(store, op.operation_id)
        assert row.progress.percentage == 10 * (n + 1)
        assert row.progress.current_step == f"op {n}"


# ----------------------------------------------------------------------------- threads


def test_concurrent_progress_stays_monotonic(service: OperationsService) -> None:
    op = running(service)
    op_id = op.operation_id
    start = threading.Barrier(5)
    errors: list[BaseException] = []
    seen: list[float] = []
    versions: dict[int, list[int]] = {n: [] for n in range(4)}
    writers_done = threading.Event()

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(400):
                # Interleaved values: the threads race up to ~80 out of order.
                value = (i * 4 + n) / 20
                versions[n].append(report(service, op_id, value, f"t{n} i{i}"))
                if i % 50 == 0:
                    progress(service, op_id, max(0.0, value - 30))  # a stale report
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def reader() -> None:
        start.wait()
        while not writers_done.is_set():
            seen.append(service.get(op_id).progress.percentage)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    watcher = threading.Thread(target=reader)
    for t in [*threads, watcher]:
        t.start()
    for t in threads:
        t.join(timeout=30)
    writers_done.set()
    watcher.join(timeout=30)

    assert errors == []
    assert seen == sorted(seen), "a reader saw progress go backwards"
    for n, vs in versions.items():
        assert vs == sorted(vs) and len(set(vs)) == len(vs), f"thread {n} versions not increasing"
    final = service.get(op_id)
    assert final.progress.percentage == (399 * 4 + 3) / 20
    # Every call was one change: 400 reports + 8 stale updates per thread.
    assert final.version == op.version + 4 * (400 + 8)
