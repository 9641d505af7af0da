"""Execution: run a job function for an operation off the event loop.

This is the seam where a distributed engine can later take over: ``submit`` takes an
operation id and a job, and everything the job says (progress, result, failure,
cancellation) goes through the OperationsService contract.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from ktrdr.errors import ConflictError, KtrdrError
from ktrdr.logging import operation_logger
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.models import OperationStatus
from ktrdr.operations.progress import ProgressReporter
from ktrdr.operations.reporting import OperationProgressReporter
from ktrdr.operations.results import OperationResult
from ktrdr.operations.service import OperationsService

ORCHESTRATION_THREADS = 4

JobResult = Mapping[str, Any]
Job = Callable[[ProgressReporter, CancellationToken], JobResult]


@dataclass(frozen=True)
class Completed:
    summary: JobResult


@dataclass(frozen=True)
class Stopped:
    """The job honoured a cancel; ``where`` says where it stopped."""

    where: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Failed:
    message: str
    traceback: str | None = None  # set for crashes (not for ktrdr errors): logged, not shown


JobOutcome = Completed | Stopped | Failed


def record_outcome(service: OperationsService, operation_id: str, outcome: JobOutcome) -> None:
    """How a job's end becomes the operation's end, the same for every executor."""
    log = operation_logger(operation_id)
    try:
        if isinstance(outcome, Stopped):
            service.finish_cancelled(
                operation_id,
                stopped_at=outcome.where or None,
                result_summary=(
                    OperationResult(reason=outcome.reason).to_dict() if outcome.reason else None
                ),
            )
        elif isinstance(outcome, Failed):
            if outcome.traceback:
                log.error("job crashed", error=outcome.message, traceback=outcome.traceback)
            service.fail(operation_id, outcome.message)
        elif service.token(operation_id).is_cancelled:
            service.finish_cancelled(operation_id, stopped_at="after the work finished")
        else:
            service.complete(operation_id, outcome.summary)
    except ConflictError:
        # The operation ended while the job ran (a forced cancel): nothing more to record.
        log.info("job finished after its operation had ended")


def start_queued(service: OperationsService, operation_id: str) -> bool:
    """Mark a queued operation running as its job really starts. False when it ended
    while it waited (cancelled in the queue): the job must not run then."""
    try:
        if service.get(operation_id).status is OperationStatus.PENDING:
            service.start(operation_id)
    except ConflictError:
        return False
    return not service.get(operation_id).is_terminal


class Executor(Protocol):
    """Runs jobs for operations: ``LocalExecutor`` (threads) or ``ProcessExecutor``."""

    def submit(self, operation_id: str, job: Job) -> JobHandle: ...

    def submit_orchestration(self, operation_id: str, work: Callable[[], None]) -> JobHandle: ...

    def shutdown(self) -> None: ...


class JobHandle:
    def __init__(self, operation_id: str, future: Future[None], service: OperationsService):
        self.operation_id = operation_id
        self._future = future
        self._service = service

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> None:
        self._future.result(timeout=timeout)

    def cancel(self, reason: str = "Cancelled") -> None:
        self._service.cancel(self.operation_id, reason)


class LocalExecutor:
    """A thread pool in the backend process. numpy/scikit-learn release the GIL in their
    heavy loops, so the API stays responsive while a job computes."""

    def __init__(self, service: OperationsService, max_workers: int = 4) -> None:
        self._service = service
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ktrdr-job")
        # Self-managed work (a research cycle) mostly waits on its children: it gets its
        # own threads, so it never holds a compute slot its own child needs.
        self._orchestration = ThreadPoolExecutor(
            max_workers=ORCHESTRATION_THREADS, thread_name_prefix="ktrdr-cycle"
        )

    def submit(self, operation_id: str, job: Job) -> JobHandle:
        """Queue ``job``; its operation stays pending until a worker thread takes it."""
        self._service.get(operation_id)  # an unknown id fails here, not in a thread
        future = self._pool.submit(self._run, operation_id, job)
        return JobHandle(operation_id, future, self._service)

    def submit_orchestration(self, operation_id: str, work: Callable[[], None]) -> JobHandle:
        """Run ``work`` that records its own outcome (e.g. through a phase machine).

        If it escapes with an exception while the operation is still open, the operation
        is failed with that error, so nothing is ever left running.
        """
        if self._service.get(operation_id).status is OperationStatus.PENDING:
            self._service.start(operation_id)
        future = self._orchestration.submit(self._run_self_managed, operation_id, work)
        return JobHandle(operation_id, future, self._service)

    def _run_self_managed(self, operation_id: str, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception as exc:
            operation_logger(operation_id).error("work crashed", error=str(exc))
            try:
                self._service.fail(operation_id, f"{type(exc).__name__}: {exc}")
            except ConflictError:
                pass
            return
        if not self._service.get(operation_id).is_terminal:
            self._service.fail(operation_id, "The work ended without recording an outcome")

    def _run(self, operation_id: str, job: Job) -> None:
        if not start_queued(self._service, operation_id):
            return
        reporter = OperationProgressReporter(self._service, operation_id)
        token = self._service.token(operation_id)
        try:
            outcome: JobOutcome = Completed(job(reporter, token))
        except CancellationRequested as stop:
            outcome = Stopped(stop.where, stop.reason)
        except KtrdrError as exc:
            outcome = Failed(exc.message)
        except Exception as exc:  # a bug or an unexpected library error: record it
            outcome = Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        record_outcome(self._service, operation_id, outcome)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._orchestration.shutdown(wait=False, cancel_futures=True)
