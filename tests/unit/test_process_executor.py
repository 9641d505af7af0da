"""ProcessExecutor with real worker processes: every way a job can end becomes the right
operation outcome, and progress and cancellation cross the process boundary."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ktrdr.errors import JobFailedError
from ktrdr.executors.process import ProcessExecutor
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.execution import JobResult
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import Operation, OperationStatus, OperationType
from tests.support.waiting import finished as _finished
from tests.support.waiting import wait_for, wait_until

JOB_TIMEOUT = 30.0  # generous: the first job also starts the fork server


@dataclass(frozen=True)
class Epochs:
    """Reports ``epochs`` epochs, checking the token before each; optional pid file."""

    epochs: int
    seconds_each: float = 0.0
    pid_file: str | None = None

    def __call__(self, reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        if self.pid_file:
            Path(self.pid_file).write_text(str(os.getpid()))
        for epoch in range(1, self.epochs + 1):
            token.raise_if_cancelled(f"Epoch {epoch - 1}/{self.epochs}")
            time.sleep(self.seconds_each)
            reporter.report(
                ProgressUpdate(
                    100 * epoch / self.epochs,
                    f"Epoch {epoch}/{self.epochs}",
                    items_processed=epoch,
                    items_total=self.epochs,
                    context={"loss": 1 / epoch},
                )
            )
        return {"epochs": self.epochs, "worker_pid": os.getpid()}


@dataclass(frozen=True)
class Deaf:
    """Never looks at its token."""

    pid_file: str

    def __call__(self, reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        Path(self.pid_file).write_text(str(os.getpid()))
        reporter.report(ProgressUpdate(1, "Working without listening"))
        time.sleep(60)
        return {}


@dataclass(frozen=True)
class Raises:
    error: Exception

    def __call__(self, reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        raise self.error


@dataclass(frozen=True)
class KillsItself:
    def __call__(self, reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        reporter.report(ProgressUpdate(10, "About to die"))
        time.sleep(0.3)  # reports are sent by a feeder thread; give it a moment
        os.kill(os.getpid(), signal.SIGKILL)
        return {}


def finished(
    service: OperationsService, operation_id: str, timeout: float = JOB_TIMEOUT
) -> Operation:
    return _finished(service, operation_id, timeout)


@pytest.fixture
def service() -> Iterator[OperationsService]:
    svc = OperationsService(InMemoryOperationStore(), cancel_grace_seconds=0.5)
    yield svc
    svc.close()


@pytest.fixture
def executor(service: OperationsService) -> Iterator[ProcessExecutor]:
    ex = ProcessExecutor(service, max_workers=2)
    yield ex
    ex.shutdown()


def started_reporting(service: OperationsService, operation_id: str) -> Operation:
    return wait_for(
        service, operation_id, lambda op: bool(op.progress.current_step), JOB_TIMEOUT, "a report"
    )


def gone(pid: int, timeout: float) -> bool:
    def exited() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    return wait_until(exited, timeout, interval=0.02)


def test_a_job_runs_in_another_process_and_its_progress_arrives(
    service: OperationsService, executor: ProcessExecutor
) -> None:
    op_id = service.create(OperationType.TRAINING).operation_id
    steps: list[str] = []
    executor.submit(op_id, Epochs(5, seconds_each=0.02))
    version = 0
    while True:
        op = service.wait_for_change(op_id, version, 5)
        version = op.version
        if op.progress.current_step and op.progress.current_step not in steps:
            steps.append(op.progress.current_step)
        if op.is_terminal:
            break
    assert op.status is OperationStatus.COMPLETED
    assert op.result_summary is not None
    assert op.result_summary["epochs"] == 5
    assert op.result_summary["worker_pid"] != os.getpid()
    assert op.progress.percentage == 100.0
    assert op.progress.items_processed == 5 and op.progress.context == {"loss": 0.2}
    assert steps[-1] == "Epoch 5/5" and len(steps) >= 3  # seen live, not only at the end


def test_a_cancel_crosses_into_the_process_and_records_where_it_stopped(
    service: OperationsService, executor: ProcessExecutor
) -> None:
    op_id = service.create(OperationType.TRAINING).operation_id
    executor.submit(op_id, Epochs(100_000, seconds_each=0.005))
    started_reporting(service, op_id)
    sent = time.monotonic()
    service.cancel(op_id, "Stop, please")
    op = finished(service, op_id, timeout=2)
    took = time.monotonic() - sent
    assert op.status is OperationStatus.CANCELLED
    assert took < 1.0, took
    summary = op.result_summary or {}
    assert summary["stopped_at"].startswith("Epoch ")
    assert summary["reason"] == "Stop, please"


def test_errors_in_the_process_fail_the_operation_with_their_message(
    service: OperationsService, executor: ProcessExecutor
) -> None:
    known = service.create(OperationType.TRAINING).operation_id
    bug = service.create(OperationType.TRAINING).operation_id
    executor.submit(known, Raises(JobFailedError("Training diverged at epoch 3")))
    executor.submit(bug, Raises(ValueError("boom")))
    assert finished(service, known).error_message == "Training diverged at epoch 3"
    failed = finished(service, bug)
    assert failed.status is OperationStatus.FAILED
    assert failed.error_message == "ValueError: boom"


def test_a_process_that_dies_fails_its_operation_with_the_signal(
    service: OperationsService, executor: ProcessExecutor
) -> None:
    op_id = service.create(OperationType.BACKTESTING).operation_id
    executor.submit(op_id, KillsItself())
    op = finished(service, op_id)
    assert op.status is OperationStatus.FAILED
    assert "killed by SIGKILL" in (op.error_message or "")
    assert op.progress.current_step == "About to die"  # what it said before dying arrived


def test_a_job_deaf_to_cancel_is_forced_then_its_process_is_terminated(
    service: OperationsService, executor: ProcessExecutor, tmp_path: Path
) -> None:
    op_id = service.create(OperationType.TRAINING).operation_id
    pid_file = tmp_path / "pid"
    executor.submit(op_id, Deaf(str(pid_file)))
    started_reporting(service, op_id)
    pid = int(pid_file.read_text())
    service.cancel(op_id)
    op = finished(service, op_id, timeout=3)  # forced after the 0.5 s grace
    assert op.status is OperationStatus.CANCELLED
    assert gone(pid, timeout=5), "the deaf job process was left running"


def test_a_job_that_cannot_be_sent_to_a_process_fails_clearly(
    service: OperationsService, executor: ProcessExecutor
) -> None:
    op_id = service.create(OperationType.TRAINING).operation_id
    executor.submit(op_id, lambda reporter, token: {})
    op = finished(service, op_id)
    assert op.status is OperationStatus.FAILED
    assert (op.error_message or "").startswith("Could not start the job process")


def test_jobs_beyond_the_worker_count_wait_their_turn(
    service: OperationsService, executor: ProcessExecutor
) -> None:
    ops = [service.create(OperationType.TRAINING).operation_id for _ in range(3)]
    for op_id in ops:
        executor.submit(op_id, Epochs(20, seconds_each=0.02))
    results = [finished(service, op_id) for op_id in ops]
    assert all(op.status is OperationStatus.COMPLETED for op in results)
    pids = {op.result_summary["worker_pid"] for op in results if op.result_summary}
    assert len(pids) == 3  # a fresh process per job
