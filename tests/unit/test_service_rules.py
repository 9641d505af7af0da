"""OperationsService rules, on the in-memory store."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import pytest

from ktrdr.errors import (
    ConflictError,
    InvalidRequestError,
    OperationFinishedError,
    OperationNotFoundError,
)
from ktrdr.operations.models import Operation, OperationStatus, OperationType
from ktrdr.operations.service import RESTART_MESSAGE, OperationsService
from ktrdr.operations.store import InMemoryOperationStore

TRAINING = OperationType.TRAINING


@pytest.fixture
def service() -> OperationsService:
    svc = OperationsService(InMemoryOperationStore(), flush_interval=0)
    return svc


def running(service: OperationsService, parent: str | None = None) -> Operation:
    op = service.create(TRAINING, parent_operation_id=parent)
    return service.start(op.operation_id)


def test_lifecycle_to_completion_sets_exactly_100(service: OperationsService) -> None:
    op = running(service)
    service.update_progress(
        op.operation_id,
        42.5,
        "Epoch 17/40",
        items_processed=17,
        items_total=40,
        context={"loss": 0.3},
    )
    got = service.get(op.operation_id)
    assert (got.progress.percentage, got.progress.current_step) == (42.5, "Epoch 17/40")
    assert got.progress.context == {"loss": 0.3}
    done = service.complete(op.operation_id, {"model_path": "/x"})
    assert done.status is OperationStatus.COMPLETED
    assert done.progress.percentage == 100.0
    assert done.result_summary == {"model_path": "/x"}
    assert done.completed_at is not None


@pytest.mark.parametrize("bad", [-0.1, 100.5, math.nan, math.inf, -math.inf])
def test_percentage_outside_0_100_or_not_finite_is_rejected(
    service: OperationsService, bad: float
) -> None:
    op = running(service)
    with pytest.raises(InvalidRequestError):
        service.update_progress(op.operation_id, bad, "x")
    assert service.get(op.operation_id).progress.percentage == 0.0


def test_progress_never_decreases_and_running_never_shows_100(service: OperationsService) -> None:
    op = running(service)
    service.update_progress(op.operation_id, 60, "a")
    lower = service.update_progress(op.operation_id, 30, "b")
    assert lower.progress.percentage == 60
    assert lower.progress.current_step == "b"
    top = service.update_progress(op.operation_id, 100, "c")
    assert 99 < top.progress.percentage < 100


MUTATORS: list[tuple[str, Callable[[OperationsService, str], object]]] = [
    ("start", lambda s, i: s.start(i)),
    ("progress", lambda s, i: s.update_progress(i, 50, "x")),
    ("parameters", lambda s, i: s.update_parameters(i, {"a": 1})),
    ("complete", lambda s, i: s.complete(i, {})),
    ("fail", lambda s, i: s.fail(i, "e")),
]


@pytest.mark.parametrize("ending", ["complete", "fail", "cancel"])
@pytest.mark.parametrize(("name", "mutate"), MUTATORS)
def test_terminal_statuses_never_change(
    service: OperationsService,
    ending: str,
    name: str,
    mutate: Callable[[OperationsService, str], object],
) -> None:
    op = running(service)
    if ending == "complete":
        service.complete(op.operation_id, {})
    elif ending == "fail":
        service.fail(op.operation_id, "boom")
    else:
        service.cancel(op.operation_id)
        service.finish_cancelled(op.operation_id, stopped_at="Epoch 1/2")
    before = service.get(op.operation_id)
    with pytest.raises(OperationFinishedError):
        mutate(service, op.operation_id)
    assert service.get(op.operation_id) == before


def test_cancel_rules(service: OperationsService) -> None:
    pending = service.create(TRAINING)
    assert service.cancel(pending.operation_id).status is OperationStatus.CANCELLED

    op = running(service)
    first = service.cancel(op.operation_id)
    assert first.status is OperationStatus.RUNNING and first.cancel_requested
    assert service.token(op.operation_id).is_cancelled
    again = service.cancel(op.operation_id)  # idempotent while cancelling
    assert again.version == first.version
    done = service.finish_cancelled(op.operation_id, stopped_at="Epoch 67/100")
    assert done.status is OperationStatus.CANCELLED
    assert (done.result_summary or {})["stopped_at"] == "Epoch 67/100"
    assert service.cancel(op.operation_id).status is OperationStatus.CANCELLED

    finished = running(service)
    service.complete(finished.operation_id, {})
    with pytest.raises(OperationFinishedError) as info:
        service.cancel(finished.operation_id)
    assert info.value.code == "operation_already_finished"
    with pytest.raises(OperationNotFoundError):
        service.cancel("nope")


def test_cancelling_a_parent_cancels_its_non_terminal_children_recursively(
    service: OperationsService,
) -> None:
    parent = running(service)
    child = running(service, parent.operation_id)
    grandchild = running(service, child.operation_id)
    pending_child = service.create(TRAINING, parent_operation_id=parent.operation_id)
    done_child = running(service, parent.operation_id)
    service.complete(done_child.operation_id, {})

    service.cancel(parent.operation_id)
    for op_id in (child.operation_id, grandchild.operation_id):
        assert service.get(op_id).cancel_requested
        assert service.token(op_id).is_cancelled
    assert service.get(pending_child.operation_id).status is OperationStatus.CANCELLED
    assert service.get(done_child.operation_id).status is OperationStatus.COMPLETED
    with pytest.raises(OperationFinishedError):
        service.create(TRAINING, parent_operation_id=pending_child.operation_id)


def test_unacknowledged_cancel_is_forced_after_the_grace_period() -> None:
    service = OperationsService(
        InMemoryOperationStore(), flush_interval=0, cancel_grace_seconds=0.05
    )
    op = running(service)
    service.update_progress(op.operation_id, 30, "Epoch 3/10")
    service.cancel(op.operation_id)
    deadline = time.monotonic() + 2
    while service.get(op.operation_id).status is OperationStatus.RUNNING:
        assert time.monotonic() < deadline, "never forced"
        time.sleep(0.01)
    forced = service.get(op.operation_id)
    assert forced.status is OperationStatus.CANCELLED
    assert forced.result_summary == {"stopped_at": "Epoch 3/10", "forced": True}
    service.close()


def test_progress_before_start_is_a_conflict(service: OperationsService) -> None:
    op = service.create(TRAINING)
    with pytest.raises(ConflictError):
        service.update_progress(op.operation_id, 10, "x")
    with pytest.raises(ConflictError):
        service.complete(op.operation_id, {})


def test_list_filters_newest_first_with_paging(service: OperationsService) -> None:
    ids = [service.create(TRAINING).operation_id for _ in range(5)]
    cycle = service.create(OperationType.AGENT_RESEARCH)
    kid = service.create(TRAINING, parent_operation_id=cycle.operation_id)
    service.start(ids[0])
    page, total = service.list_operations(operation_type=TRAINING, limit=3, offset=1)
    assert total == 6
    everything, _ = service.list_operations(operation_type=TRAINING, limit=100)
    assert [o.operation_id for o in page] == [o.operation_id for o in everything[1:4]]
    created = [o.created_at for o in everything]
    assert created == sorted(created, reverse=True)
    assert [o.operation_id for o in service.list_operations(status=OperationStatus.RUNNING)[0]] == [
        ids[0]
    ]
    children, _ = service.list_operations(parent_operation_id=cycle.operation_id)
    assert [c.operation_id for c in children] == [kid.operation_id]
    assert [c.operation_id for c in service.children(cycle.operation_id)] == [kid.operation_id]


def test_version_goes_up_by_one_per_change_and_parameters_merge(
    service: OperationsService,
) -> None:
    op = service.create(TRAINING, parameters={"a": 1})
    v = op.version
    assert service.start(op.operation_id).version == v + 1
    assert service.update_parameters(op.operation_id, {"b": 2}).version == v + 2
    merged = service.update_progress(op.operation_id, 5, "x", parameters={"c": 3})
    assert merged.version == v + 3
    assert merged.metadata.parameters == {"a": 1, "b": 2, "c": 3}


def test_restart_recovery_marks_left_over_work_failed() -> None:
    store = InMemoryOperationStore()
    first = OperationsService(store, flush_interval=0)
    left_running = running(first)
    first.update_progress(left_running.operation_id, 45, "Epoch 45/100")
    left_pending = first.create(TRAINING)
    finished = running(first)
    first.complete(finished.operation_id, {})
    # no close(): the process "died"
    second = OperationsService(store, flush_interval=0)
    assert set(second.recovered) == {left_running.operation_id, left_pending.operation_id}
    recovered = second.get(left_running.operation_id)
    assert recovered.status is OperationStatus.FAILED
    assert (recovered.error_message or "").startswith(RESTART_MESSAGE)
    assert "Epoch 45/100" in (recovered.error_message or "")
    assert second.get(finished.operation_id).status is OperationStatus.COMPLETED
    third = OperationsService(store, flush_interval=0)
    assert third.recovered == []  # recovery is persisted


def test_progress_writes_are_coalesced_but_reads_are_live() -> None:
    store = InMemoryOperationStore()
    service = OperationsService(store, flush_interval=0.2)
    op = running(service)
    writes_before = store.writes
    for i in range(1, 500):
        service.update_progress(op.operation_id, i / 5, f"step {i}")
        assert service.get(op.operation_id).progress.current_step == f"step {i}"
    assert store.writes - writes_before < 10
    service.close()
    reloaded = OperationsService(store, flush_interval=0)
    assert reloaded.get(op.operation_id).progress.current_step == "step 499"


def test_concurrent_reporters_keep_progress_monotonic(service: OperationsService) -> None:
    op = running(service)
    seen: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(service.get(op.operation_id).progress.percentage)

    def report(offset: int) -> None:
        for i in range(300):
            service.update_progress(op.operation_id, (i * 4 + offset) / 13, "x")

    watcher = threading.Thread(target=watch)
    watcher.start()
    workers = [threading.Thread(target=report, args=(k,)) for k in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    watcher.join()
    assert seen == sorted(seen)
    assert service.get(op.operation_id).progress.percentage == pytest.approx(1199 / 13)
