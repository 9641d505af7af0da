"""DaskExecutor: trainings and backtests as tasks on a Dask cluster, behind the same
contract as the thread and process executors.

What crosses the cluster is exactly the OperationsService contract (see
``ktrdr.executors.dask.task`` for why these channels): progress arrives on a Dask event topic and
is handed to ``OperationsService.update_progress`` by one monitor thread here (the service
stays the only writer and keeps its rules); a cancelled token sets the operation's Dask
``Event``, which the job's token on the worker reads; the outcome is the task's result,
recorded by ``record_outcome`` as for every executor. A job's bars travel with it and the
files it writes come back with its result (``ktrdr.executors.dask.cargo``).

Faults end operations, never leave them running: a worker that dies mid-job fails its
operation naming the worker (the task is not run again: a retry would restart its
progress); a lost scheduler fails every running operation with that reason; an
unreachable scheduler makes ``submit`` raise ``ClusterUnavailableError`` (503) after
failing the operation it could not start, and the next submit connects again.
"""

from __future__ import annotations

import pickle
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from distributed import Client, Event
from distributed import Future as DaskFuture

from ktrdr.errors import ClusterUnavailableError, KtrdrError
from ktrdr.executors.dask.cargo import PackedJob, pack, store_outputs
from ktrdr.executors.dask.connection import ClusterConnection, ClusterState
from ktrdr.executors.dask.task import (
    PROGRESS_TOPIC,
    TaskResult,
    cancel_event_name,
    run_on_worker,
    update_from_message,
)
from ktrdr.executors.thread import LocalExecutor
from ktrdr.logging import operation_logger
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.execution import (
    ORCHESTRATION_THREADS,
    Failed,
    Job,
    JobHandle,
    JobOutcome,
    Stopped,
    record_outcome,
    start_queued,
)
from ktrdr.operations.reporting import OperationProgressReporter
from ktrdr.operations.service import OperationsService
from ktrdr.operations.threads import THREADS

MONITOR_SLICE_SECONDS = 0.05
# How often the monitor asks the scheduler which workers are alive.
CLUSTER_CHECK_SECONDS = 0.5
RESULT_TIMEOUT_SECONDS = 60.0


@dataclass
class _ClusterJob:
    operation_id: str
    packed: PackedJob
    future: DaskFuture[TaskResult]
    event: Event
    token: CancellationToken
    handle_future: Future[None]
    reporter: OperationProgressReporter
    worker: str | None = None
    cancel_sent: bool = False
    lost: str | None = None  # why the job's result can no longer come back


class DaskExecutor:
    def __init__(
        self,
        service: OperationsService,
        connection: ClusterConnection,
        orchestrations: int = ORCHESTRATION_THREADS,
    ) -> None:
        self._service = service
        self._connection = connection
        # A research cycle only waits on its children: it stays on a backend thread.
        self._orchestration = LocalExecutor(service, max_workers=1, orchestrations=orchestrations)
        self._jobs: dict[str, _ClusterJob] = {}
        self._lock = threading.Lock()
        self._inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._scheduler_id: object = None
        self._stopping = threading.Event()
        connection.on_connect(self._subscribe)
        self._monitor = THREADS.thread(self._watch, name="ktrdr-dask")
        self._monitor.start()
        connection.connect_in_background()

    @property
    def cluster(self) -> ClusterState:
        return self._connection.state

    @property
    def connection(self) -> ClusterConnection:
        return self._connection

    # -- submitting ----------------------------------------------------------------------

    def ensure_available(self) -> None:
        """``ClusterUnavailableError`` unless the scheduler answers (reconnecting if need be)."""
        self._connection.client()

    def submit(self, operation_id: str, job: Job) -> JobHandle:
        """Send ``job`` to the cluster; its operation stays pending until a worker starts it.

        Raises ``ClusterUnavailableError`` when the scheduler cannot be reached (the
        operation is failed with that reason first, so nothing is left pending)."""
        self._service.get(operation_id)  # an unknown id fails here
        done: Future[None] = Future()
        handle = JobHandle(operation_id, done, self._service)
        try:
            packed = pack(job)
        except KtrdrError as exc:
            self._end(operation_id, Failed(exc.message), done)
            return handle
        try:
            client = self._connection.client()
        except ClusterUnavailableError as exc:
            self._end(operation_id, Failed(exc.message), done)
            raise
        event = Event(cancel_event_name(operation_id), client=client)
        future = client.submit(
            run_on_worker,
            operation_id,
            pickle.dumps(packed.job),
            packed.output_fields,
            key=f"ktrdr-job-{operation_id}",
            pure=False,
            retries=0,
        )
        with self._lock:
            self._jobs[operation_id] = _ClusterJob(
                operation_id=operation_id,
                packed=packed,
                future=future,
                event=event,
                token=self._service.token(operation_id),
                handle_future=done,
                reporter=OperationProgressReporter(self._service, operation_id),
            )
        return handle

    def submit_orchestration(self, operation_id: str, work: Callable[[], None]) -> JobHandle:
        return self._orchestration.submit_orchestration(operation_id, work)

    def _subscribe(self, client: Client) -> None:
        client.subscribe_topic(PROGRESS_TOPIC, lambda event: self._inbox.put(event[1]))

    # -- the monitor thread --------------------------------------------------------------

    def _watch(self) -> None:
        next_check = 0.0
        while not self._stopping.wait(MONITOR_SLICE_SECONDS):
            try:
                # Ends before starts: a worker's next job must not show as running while
                # the one it just finished still does.
                with self._lock:
                    jobs = list(self._jobs.values())
                for job in jobs:
                    self._follow(job)
                self._drain_inbox()
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + CLUSTER_CHECK_SECONDS
                    self._check_cluster()
            except Exception as exc:  # the monitor must outlive any one bad moment
                operation_logger("-").error("dask monitor error", error=repr(exc))

    def _drain_inbox(self) -> None:
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                job = self._jobs.get(str(message.get("op")))
            if job is None or job.lost:
                continue
            worker = str(message.get("worker", "?"))
            if message.get("kind") == "started":
                if job.worker is not None and job.worker != worker:
                    # The scheduler re-ran it elsewhere: its first worker died under it.
                    job.lost = _worker_died(job.worker)
                    continue
                job.worker = worker
                if not start_queued(self._service, job.operation_id):
                    self._signal_cancel(job)  # it ended while it waited: stop at once
            elif message.get("kind") == "progress" and worker == job.worker:
                try:
                    job.reporter.report(update_from_message(message))
                except KtrdrError as exc:  # a malformed report: the job goes on
                    operation_logger(job.operation_id).warning("bad report", error=exc.message)

    def _check_cluster(self) -> None:
        state, info = self._connection.refresh()
        with self._lock:
            jobs = list(self._jobs.values())
        if state.status != "connected":
            for job in jobs:
                job.lost = job.lost or (
                    f"Lost the connection to the Dask scheduler at {state.scheduler} while "
                    "the job ran; its result cannot come back"
                )
            return
        client = self._connection.current()
        if info.get("id") != self._scheduler_id and client is not None:
            if self._scheduler_id is not None:  # the client reconnected to a new scheduler
                self._subscribe(client)
            self._scheduler_id = info.get("id")
        alive = set(info.get("workers", {}))
        for job in jobs:
            if job.worker is not None and job.worker not in alive and not job.future.done():
                job.lost = job.lost or _worker_died(job.worker)

    def _follow(self, job: _ClusterJob) -> None:
        if job.token.is_cancelled and not job.cancel_sent:
            self._signal_cancel(job)
        if job.lost is not None:
            if not job.cancel_sent:
                self._signal_cancel(job)
            self._release(job)  # no retry elsewhere: its progress would start over
            self._finish(job, Failed(job.lost))
            return
        if job.worker is None and self._service.get(job.operation_id).is_terminal:
            self._release(job)  # cancelled (or failed) while it waited for a worker
            self._finish(job, None)
            return
        if job.future.done():
            self._finish(job, self._outcome(job))

    def _outcome(self, job: _ClusterJob) -> JobOutcome:
        status = job.future.status
        if status == "finished":
            try:
                result: TaskResult = job.future.result(timeout=RESULT_TIMEOUT_SECONDS)
                if job.worker is None:  # its "started" is still on the way
                    job.worker = result.worker
                    start_queued(self._service, job.operation_id)
                if result.last_report is not None:
                    job.reporter.report(update_from_message(result.last_report))
                outcome = store_outputs(
                    result.outcome, job.packed.output_dirs, result.workdirs, result.files
                )
            except Exception as exc:
                return Failed(f"Could not fetch or store the job's result: {exc}")
            if isinstance(outcome, Stopped) and job.token.reason:
                return Stopped(outcome.where, job.token.reason)
            return outcome
        if status == "error":
            try:
                error = job.future.exception(timeout=RESULT_TIMEOUT_SECONDS)
            except Exception as exc:
                error = exc
            return Failed(f"The Dask task failed: {type(error).__name__}: {error}")
        return Failed(
            f"Lost the connection to the Dask scheduler at {self._connection.address} while "
            "the job ran; its result cannot come back"
        )

    def _finish(self, job: _ClusterJob, outcome: JobOutcome | None) -> None:
        with self._lock:
            self._jobs.pop(job.operation_id, None)
        if _reachable(job):
            # A cleared event nobody waits on is deleted by the scheduler: without this,
            # every operation would leave its cancel event behind there.
            try:
                job.event.clear()
            except Exception as exc:
                operation_logger(job.operation_id).info("cancel event kept", error=str(exc))
        if outcome is not None:
            if job.worker is None and not isinstance(outcome, Failed):
                start_queued(self._service, job.operation_id)  # its "started" came late
            self._end(job.operation_id, outcome, job.handle_future)
        elif not job.handle_future.done():
            job.handle_future.set_result(None)

    def _end(self, operation_id: str, outcome: JobOutcome, done: Future[None]) -> None:
        try:
            record_outcome(self._service, operation_id, outcome)
        finally:
            if not done.done():
                done.set_result(None)

    def _signal_cancel(self, job: _ClusterJob) -> None:
        job.cancel_sent = True
        if not _reachable(job):
            return  # no scheduler: the job's token stops it when it cannot reach one either
        try:
            job.event.set()
        except Exception as exc:
            operation_logger(job.operation_id).info("cancel not delivered", error=str(exc))

    def _release(self, job: _ClusterJob) -> None:
        """Drop the task on the cluster (a call to a lost scheduler would wait for its
        connect timeout, so none is made then)."""
        if _reachable(job):
            try:
                job.future.cancel()
            except Exception as exc:
                operation_logger(job.operation_id).info("task not released", error=str(exc))

    def shutdown(self) -> None:
        self._stopping.set()
        self._monitor.join(timeout=2)
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            self._release(job)
            if not job.handle_future.done():
                job.handle_future.set_result(None)
        self._orchestration.shutdown()
        self._connection.close()


def _reachable(job: _ClusterJob) -> bool:
    return bool(job.future.client.status == "running")


def _worker_died(worker: str) -> str:
    return (
        f"Dask worker {worker} died while running the job (its process ended or it lost "
        "contact with the scheduler)"
    )
