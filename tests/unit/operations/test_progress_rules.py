"""Progress while running: recorded, bounded to [0, 100], never decreasing, capped below 100
until completion, and monotonic under concurrent writers."""

from __future__ import annotations

import math
import threading

import pytest

from ktrdr.errors import ConflictError, InvalidRequestError
from ktrdr.operations.service import RUNNING_PROGRESS_CAP, OperationsService
from ktrdr.records.models import OperationStatus
from tests.support.progress import progress, report
from tests.unit.operations.arrange import TRAINING, running


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


def _refused_without_a_trace(service: OperationsService, operation_id: str, value: float) -> None:
    """Both ways of reporting refuse ``value``, and the operation is exactly as before."""
    before = service.get(operation_id)
    with pytest.raises(InvalidRequestError):
        progress(service, operation_id, value)
    with pytest.raises(InvalidRequestError):
        report(service, operation_id, value)
    assert service.get(operation_id) == before


@pytest.mark.parametrize("value", [-0.001, -1, -1e300, 100.0001, 101, 1e300])
def test_percentage_out_of_bounds_is_rejected(service: OperationsService, value: float) -> None:
    op = running(service)
    progress(service, op.operation_id, 30)
    _refused_without_a_trace(service, op.operation_id, value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_percentage_is_rejected(service: OperationsService, value: float) -> None:
    _refused_without_a_trace(service, running(service).operation_id, value)


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
