"""Execution, the domain's side: what an executor is (``Executor``, ``JobHandle``), how a
job ends (``Completed``, ``Stopped``, ``Failed``) and how that end is recorded.

The executors themselves (threads, processes, a Dask cluster) live in ``ktrdr.executors``:
``submit`` takes an operation id and a job, and everything the job says (progress, result,
failure, cancellation) goes through the OperationsService contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from ktrdr.errors import ConflictError
from ktrdr.logging import operation_logger
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.progress import ProgressReporter
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import OperationStatus
from ktrdr.records.results import OperationResult

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
    """Runs jobs for operations: see ``ktrdr.executors`` (threads, processes, Dask)."""

    def ensure_available(self) -> None:
        """Raise (e.g. ``ClusterUnavailableError``) when a job submitted now could not run,
        so a start request is refused before its operation is created."""

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
