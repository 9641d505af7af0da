"""Execution: run a job function for an operation off the event loop.

This is the seam where a distributed engine can later take over: ``submit`` takes an
operation id and a job, and everything the job says (progress, result, failure,
cancellation) goes through the OperationsService contract.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ktrdr.errors import ConflictError, KtrdrError
from ktrdr.logging import operation_logger
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.models import OperationStatus
from ktrdr.operations.progress import ProgressReporter
from ktrdr.operations.reporting import OperationProgressReporter
from ktrdr.operations.service import OperationsService

JobResult = Mapping[str, Any]
Job = Callable[[ProgressReporter, CancellationToken], JobResult]


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

    def submit(self, operation_id: str, job: Job) -> JobHandle:
        if self._service.get(operation_id).status is OperationStatus.PENDING:
            self._service.start(operation_id)
        future = self._pool.submit(self._run, operation_id, job)
        return JobHandle(operation_id, future, self._service)

    def submit_self_managed(self, operation_id: str, work: Callable[[], None]) -> JobHandle:
        """Run ``work`` that records its own outcome (e.g. through a phase machine).

        If it escapes with an exception while the operation is still open, the operation
        is failed with that error, so nothing is ever left running.
        """
        if self._service.get(operation_id).status is OperationStatus.PENDING:
            self._service.start(operation_id)
        future = self._pool.submit(self._run_self_managed, operation_id, work)
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
        log = operation_logger(operation_id)
        reporter = OperationProgressReporter(self._service, operation_id)
        token = self._service.token(operation_id)
        try:
            try:
                summary = job(reporter, token)
            except CancellationRequested as stop:
                self._service.finish_cancelled(
                    operation_id,
                    stopped_at=stop.where or None,
                    result_summary={"reason": stop.reason} if stop.reason else None,
                )
                return
            except KtrdrError as exc:
                self._service.fail(operation_id, exc.message)
                return
            except Exception as exc:  # a bug or an unexpected library error: record it
                log.error("job crashed", error=str(exc), traceback=traceback.format_exc())
                self._service.fail(operation_id, f"{type(exc).__name__}: {exc}")
                return
            if token.is_cancelled:
                self._service.finish_cancelled(operation_id, stopped_at="after the work finished")
            else:
                self._service.complete(operation_id, summary)
        except ConflictError:
            # The operation ended while the job ran (a forced cancel): nothing more to record.
            log.info("job finished after its operation had ended")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
