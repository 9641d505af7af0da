"""The thread executor: jobs run in a thread pool inside the backend process."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ktrdr.errors import ConflictError, KtrdrError
from ktrdr.executors.job_threads import cap_job_threads
from ktrdr.logging import operation_logger
from ktrdr.operations import execution
from ktrdr.operations.cancellation import CancellationRequested
from ktrdr.operations.execution import Completed, Failed, Job, JobHandle, JobOutcome, Stopped
from ktrdr.operations.reporting import OperationProgressReporter
from ktrdr.operations.service import OperationsService
from ktrdr.operations.threads import THREADS
from ktrdr.records.models import OperationStatus


class LocalExecutor:
    """A thread pool in the backend process. numpy/scikit-learn release the GIL in their
    heavy loops, so the API stays responsive while a job computes.

    ``job_threads`` caps the BLAS/OpenMP threads of every job (None: the libraries'
    default, every core). The BLAS part of that cap is process-wide, so it also holds for
    the API's threads and for concurrent jobs: see ``ktrdr.executors.job_threads``.
    """

    def __init__(
        self,
        service: OperationsService,
        max_workers: int = 4,
        job_threads: int | None = None,
        orchestrations: int = execution.ORCHESTRATION_THREADS,
    ) -> None:
        self._service = service
        self._job_threads = job_threads
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ktrdr-job")
        # Self-managed work (a research cycle) mostly waits on its children: it gets its
        # own threads, so it never holds a compute slot its own child needs.
        # ``orchestrations``: as many as cycles may be open at once, or one would wait,
        # marked running, for another to end.
        self._orchestration = ThreadPoolExecutor(
            max_workers=max(orchestrations, execution.ORCHESTRATION_THREADS),
            thread_name_prefix="ktrdr-cycle",
        )

    def ensure_available(self) -> None:
        return None  # threads in this process are always there

    def submit(self, operation_id: str, job: Job) -> JobHandle:
        """Queue ``job``; its operation stays pending until a worker thread takes it."""
        self._service.get(operation_id)  # an unknown id fails here, not in a thread
        # Guarded: a crash past _run's own handling would leave the operation open unseen.
        future = self._pool.submit(THREADS.guarded("ktrdr-job", self._run), operation_id, job)
        return JobHandle(operation_id, future, self._service)

    def submit_orchestration(self, operation_id: str, work: Callable[[], None]) -> JobHandle:
        """Run ``work`` that records its own outcome (e.g. through a phase machine).

        If it escapes with an exception while the operation is still open, the operation
        is failed with that error, so nothing is ever left running.
        """
        if self._service.get(operation_id).status is OperationStatus.PENDING:
            self._service.start(operation_id)
        future = self._orchestration.submit(
            THREADS.guarded("ktrdr-cycle", self._run_self_managed), operation_id, work
        )
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
        if not execution.start_queued(self._service, operation_id):
            return
        reporter = OperationProgressReporter(self._service, operation_id)
        token = self._service.token(operation_id)
        try:
            cap_job_threads(self._job_threads)
            outcome: JobOutcome = Completed(job(reporter, token))
        except CancellationRequested as stop:
            outcome = Stopped(stop.where, stop.reason)
        except KtrdrError as exc:
            outcome = Failed(exc.message)
        except Exception as exc:  # a bug or an unexpected library error: record it
            outcome = Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        execution.record_outcome(self._service, operation_id, outcome)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._orchestration.shutdown(wait=False, cancel_futures=True)
