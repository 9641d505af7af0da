"""LocalExecutor: every way a job can end becomes the right operation outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ktrdr.errors import JobFailedError
from ktrdr.executors.thread import LocalExecutor
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.execution import JobResult
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationStatus, OperationType
from tests.support.waiting import finished, wait_for

JOB_TIMEOUT = 10.0


@pytest.fixture
def service() -> Iterator[OperationsService]:
    svc = OperationsService(InMemoryOperationStore(), cancel_grace_seconds=60)
    yield svc
    svc.close()


@pytest.fixture
def executor(service: OperationsService) -> Iterator[LocalExecutor]:
    ex = LocalExecutor(service, max_workers=2)
    yield ex
    ex.shutdown()


def new_op(service: OperationsService) -> str:
    return service.create(OperationType.TRAINING).operation_id


def test_a_job_runs_to_completion(service: OperationsService, executor: LocalExecutor) -> None:
    op_id = new_op(service)
    seen_status: list[OperationStatus] = []

    def job(reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        seen_status.append(service.get(op_id).status)
        for epoch in range(1, 5):
            token.raise_if_cancelled(f"Epoch {epoch}/4")
            reporter.report(
                ProgressUpdate(epoch * 25, f"Epoch {epoch}/4", items_processed=epoch, items_total=4)
            )
        return {"accuracy": 0.64, "epochs": 4}

    handle = executor.submit(op_id, job)
    handle.wait(JOB_TIMEOUT)
    assert handle.done()
    op = service.get(op_id)
    assert seen_status == [OperationStatus.RUNNING]  # submit started it
    assert op.status is OperationStatus.COMPLETED
    assert op.result_summary == {"accuracy": 0.64, "epochs": 4}
    assert op.progress.percentage == 100.0
    assert op.progress.current_step == "Epoch 4/4"
    assert (op.progress.items_processed, op.progress.items_total) == (4, 4)
    assert op.started_at is not None and op.completed_at is not None


def test_a_job_may_be_submitted_for_an_already_running_operation(
    service: OperationsService, executor: LocalExecutor
) -> None:
    op_id = new_op(service)
    service.start(op_id)
    executor.submit(op_id, lambda _r, _t: {"ok": 1}).wait(JOB_TIMEOUT)
    assert service.get(op_id).status is OperationStatus.COMPLETED


def test_a_job_that_stops_on_cancel_ends_cancelled_with_where(
    service: OperationsService, executor: LocalExecutor
) -> None:
    op_id = new_op(service)

    def job(reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        reporter.report(ProgressUpdate(67, "Epoch 67/100"))
        raise CancellationRequested(where="Epoch 67/100", reason="Cancelled by user")

    executor.submit(op_id, job).wait(JOB_TIMEOUT)
    op = service.get(op_id)
    assert op.status is OperationStatus.CANCELLED
    assert op.result_summary == {"stopped_at": "Epoch 67/100", "reason": "Cancelled by user"}
    assert op.completed_at is not None
    assert op.progress.percentage == 67.0


def test_a_ktrdr_error_fails_the_operation_with_its_message(
    service: OperationsService, executor: LocalExecutor
) -> None:
    op_id = new_op(service)

    def job(reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        raise JobFailedError("Training diverged at epoch 3 (loss is NaN)")

    executor.submit(op_id, job).wait(JOB_TIMEOUT)
    op = service.get(op_id)
    assert op.status is OperationStatus.FAILED
    assert op.error_message == "Training diverged at epoch 3 (loss is NaN)"


def test_an_unexpected_exception_fails_with_type_and_message(
    service: OperationsService, executor: LocalExecutor
) -> None:
    op_id = new_op(service)

    def job(reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        reporter.report(ProgressUpdate(10, "loading"))
        return {"x": 1 / 0}

    handle = executor.submit(op_id, job)
    handle.wait(JOB_TIMEOUT)  # the crash is recorded, not raised to the waiter
    op = service.get(op_id)
    assert op.status is OperationStatus.FAILED
    assert op.error_message == "ZeroDivisionError: division by zero"
    assert op.progress.percentage == 10.0


def test_cancel_through_the_service_reaches_the_job_quickly(
    service: OperationsService, executor: LocalExecutor
) -> None:
    op_id = new_op(service)
    started = threading.Event()
    seen_after: list[float] = []
    cancelled_at: list[float] = []

    def job(reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        started.set()
        for step in range(1, 100_000):
            if token.wait(0.01):
                seen_after.append(time.monotonic() - cancelled_at[0])
                raise CancellationRequested(where=f"Step {step}", reason=token.reason)
            reporter.report(ProgressUpdate(min(step, 90), f"Step {step}"))
        return {}

    handle = executor.submit(op_id, job)
    assert started.wait(JOB_TIMEOUT)
    time.sleep(0.05)
    cancelled_at.append(time.monotonic())
    asked = service.cancel(op_id, "Cancelled by user")
    assert asked.cancel_requested and asked.status is OperationStatus.RUNNING
    handle.wait(JOB_TIMEOUT)

    op = service.get(op_id)
    assert seen_after and seen_after[0] < 1.0, seen_after
    assert op.status is OperationStatus.CANCELLED
    assert op.result_summary is not None
    assert str(op.result_summary["stopped_at"]).startswith("Step ")
    assert op.result_summary["reason"] == "Cancelled by user"
    assert "forced" not in op.result_summary


def test_the_handle_cancels_too(service: OperationsService, executor: LocalExecutor) -> None:
    op_id = new_op(service)
    started = threading.Event()

    def job(reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        started.set()
        token.wait(JOB_TIMEOUT)
        token.raise_if_cancelled("waiting")
        return {}

    handle = executor.submit(op_id, job)
    assert started.wait(JOB_TIMEOUT)
    handle.cancel("stop")
    handle.wait(JOB_TIMEOUT)
    assert service.get(op_id).result_summary == {"stopped_at": "waiting", "reason": "stop"}


def test_a_job_that_ignores_the_cancel_still_ends_cancelled(
    service: OperationsService, executor: LocalExecutor
) -> None:
    op_id = new_op(service)
    started, go_on = threading.Event(), threading.Event()

    def job(reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        started.set()
        go_on.wait(JOB_TIMEOUT)
        return {"accuracy": 0.5}

    handle = executor.submit(op_id, job)
    assert started.wait(JOB_TIMEOUT)
    service.cancel(op_id)
    go_on.set()
    handle.wait(JOB_TIMEOUT)
    op = service.get(op_id)
    assert op.status is OperationStatus.CANCELLED
    assert op.result_summary == {"stopped_at": "after the work finished"}


def test_a_job_outliving_a_forced_cancel_changes_nothing() -> None:
    svc = OperationsService(InMemoryOperationStore(), cancel_grace_seconds=0.05)
    ex = LocalExecutor(svc, max_workers=1)
    try:
        op_id = new_op(svc)
        started, go_on = threading.Event(), threading.Event()

        def job(reporter: ProgressReporter, token: CancellationToken) -> JobResult:
            started.set()
            reporter.report(ProgressUpdate(30, "Epoch 3/10"))
            go_on.wait(JOB_TIMEOUT)
            reporter.report(
                ProgressUpdate(40, "Epoch 4/10")
            )  # dropped quietly: the operation has ended
            return {"accuracy": 0.9}

        handle = ex.submit(op_id, job)
        assert started.wait(JOB_TIMEOUT)
        svc.cancel(op_id)
        forced = finished(svc, op_id)
        go_on.set()
        handle.wait(JOB_TIMEOUT)  # no ConflictError escapes
        assert forced.result_summary == {"stopped_at": "Epoch 3/10", "forced": True}
        assert svc.get(op_id) == forced
    finally:
        ex.shutdown()
        svc.close()


def test_self_managed_work_must_record_an_outcome(
    service: OperationsService, executor: LocalExecutor
) -> None:
    silent = new_op(service)
    executor.submit_orchestration(silent, lambda: None).wait(JOB_TIMEOUT)
    op = service.get(silent)
    assert op.status is OperationStatus.FAILED
    assert op.error_message == "The work ended without recording an outcome"

    crashing = new_op(service)

    def crash() -> None:
        raise RuntimeError("phase machine broke")

    executor.submit_orchestration(crashing, crash).wait(JOB_TIMEOUT)
    assert service.get(crashing).error_message == "RuntimeError: phase machine broke"


def test_self_managed_work_that_records_its_outcome_keeps_it(
    service: OperationsService, executor: LocalExecutor
) -> None:
    op_id = new_op(service)

    def work() -> None:
        service.complete(op_id, {"phase": "completed"})

    executor.submit_orchestration(op_id, work).wait(JOB_TIMEOUT)
    op = service.get(op_id)
    assert op.status is OperationStatus.COMPLETED
    assert op.result_summary == {"phase": "completed"}


def test_a_queued_job_stays_pending_and_a_cancel_in_the_queue_means_it_never_runs(
    service: OperationsService,
) -> None:
    single = LocalExecutor(service, max_workers=1)
    release = threading.Event()
    ran: list[str] = []

    def blocker(reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        release.wait(JOB_TIMEOUT)
        return {}

    def recorder(reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        ran.append("queued job ran")
        return {}

    try:
        first = service.create(OperationType.TRAINING).operation_id
        queued = service.create(OperationType.TRAINING).operation_id
        dropped = service.create(OperationType.TRAINING).operation_id
        single.submit(first, blocker)
        handles = [single.submit(queued, recorder), single.submit(dropped, recorder)]
        wait_for(service, first, lambda op: op.status is OperationStatus.RUNNING, JOB_TIMEOUT)
        assert service.get(queued).status is OperationStatus.PENDING  # no slot yet
        service.cancel(dropped)
        assert service.get(dropped).status is OperationStatus.CANCELLED
        release.set()
        for handle in handles:
            handle.wait(JOB_TIMEOUT)
        assert service.get(queued).status is OperationStatus.COMPLETED
        assert ran == ["queued job ran"]  # the cancelled one never started
        assert (service.get(dropped).result_summary or {})["stopped_at"] == "before it started"
    finally:
        release.set()
        single.shutdown()
