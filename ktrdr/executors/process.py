"""ProcessExecutor: jobs in worker processes, behind the same contract as LocalExecutor.

Each job runs in its own process, so trainings use every core and never contend with the
API for the GIL. What crosses the boundary is exactly the OperationsService contract:

* progress: the job's ``ProgressReporter`` puts reports on a queue; a supervising thread in
  the backend hands them to ``OperationsService.update_progress``;
* cancellation: the operation's token is mirrored into a process-shared event that the
  job's checkpoints read, so a cancel reaches it between two epochs or chunks;
* the outcome (result, where it stopped, failure) comes back on the same queue and is
  recorded by ``record_outcome``, as for threads. A process that dies without one (killed,
  out of memory, a crash in native code) fails its operation with the exit code.

Jobs must be picklable (module-level callables such as ``TrainingJob``). Work that only
orchestrates other operations (the research worker) stays on threads: it waits, it does not
compute.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

from ktrdr.errors import KtrdrError
from ktrdr.executors.job_threads import cap_job_threads
from ktrdr.executors.thread import LocalExecutor
from ktrdr.logging import configure_logging
from ktrdr.operations import execution as ex
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.progress import ProgressUpdate
from ktrdr.operations.reporting import OperationProgressReporter
from ktrdr.operations.service import OperationsService
from ktrdr.operations.threads import THREADS

# How often the supervisor looks at the token and the process between two messages.
SUPERVISE_SLICE_SECONDS = 0.05
# After a forced cancel, how long a job process may linger before it is terminated.
TERMINATE_AFTER_SECONDS = 1.0
# How often a job process checks that the backend that asked for it still exists.
ORPHAN_CHECK_SECONDS = 0.5

# What a job process sends: progress reports, then exactly one outcome.
_Message = ProgressUpdate | ex.JobOutcome


class _SharedToken(CancellationToken):
    """A CancellationToken whose flag is a process-shared event set by the supervisor."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self._shared = event

    def cancel(self, reason: str = "Cancelled by user") -> None:
        del reason  # the backend's own token keeps the reason
        self._shared.set()

    @property
    def is_cancelled(self) -> bool:
        return self._shared.is_set()

    def raise_if_cancelled(self, where: str = "") -> None:
        if self._shared.is_set():
            raise CancellationRequested(where=where)

    def wait(self, timeout: float | None = None) -> bool:
        return self._shared.wait(timeout)


class _QueueReporter:
    """The job side of progress: every report goes to the supervisor as one message."""

    def __init__(self, messages: Queue[_Message]) -> None:
        self._messages = messages

    def report(self, update: ProgressUpdate) -> None:
        if update.context is not None and not isinstance(update.context, dict):
            update = replace(update, context=dict(update.context))  # picklable
        self._messages.put(update)


def _exit_when_backend_dies(backend_pid: int) -> None:
    """Job processes are children of the fork server, not of the backend: if the backend
    dies (even by SIGKILL) nobody would read their reports, so they end themselves."""
    while True:
        time.sleep(ORPHAN_CHECK_SECONDS)
        try:
            os.kill(backend_pid, 0)
        except ProcessLookupError:
            os._exit(70)
        except PermissionError:
            pass  # alive, under another user (cannot happen for our own parent, but safe)


def _job_main(
    job: ex.Job,
    messages: Queue[_Message],
    stop: Event,
    log_format: str,
    backend_pid: int,
    job_threads: int | None,
) -> None:
    """The job process: run the job, send its outcome as the last message."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the backend's, not the job's
    threading.Thread(target=_exit_when_backend_dies, args=(backend_pid,), daemon=True).start()
    configure_logging(log_format)
    outcome: ex.JobOutcome
    try:
        # The fork server preloaded numpy and scikit-learn, so their pools are resized here
        # rather than through OMP_NUM_THREADS and friends (read only when a library loads).
        cap_job_threads(job_threads)
        outcome = ex.Completed(dict(job(_QueueReporter(messages), _SharedToken(stop))))
    except CancellationRequested as exc:
        outcome = ex.Stopped(exc.where)
    except KtrdrError as exc:
        outcome = ex.Failed(exc.message)
    except BaseException as exc:  # noqa: BLE001 - everything must come back as an outcome
        outcome = ex.Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc())
    messages.put(outcome)
    messages.close()
    messages.join_thread()  # the outcome is in the pipe before the process exits


def _context(preload: Sequence[str]) -> BaseContext:
    # A fork server forks clean, single-threaded copies of a preloaded process: fast starts
    # without forking the backend's threads. Elsewhere, spawn.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        if preload:  # the fork server is one per process: an empty list would undo another's
            ctx.set_forkserver_preload(list(preload))
        return ctx
    return multiprocessing.get_context("spawn")


class ProcessExecutor:
    """Up to ``max_workers`` job processes at once; further jobs wait their turn (pending
    progress stays at 0 until a slot frees).

    ``preload``: the modules the fork server imports once, so each job process starts warm
    (the composition root names them: they belong to the layers above this one). Without
    them a job process imports what its job needs when it starts.
    """

    def __init__(
        self,
        service: OperationsService,
        max_workers: int = 2,
        log_format: str = "console",
        job_threads: int | None = None,
        orchestrations: int = ex.ORCHESTRATION_THREADS,
        preload: Sequence[str] = (),
    ) -> None:
        self._service = service
        # BLAS/OpenMP threads per job process (None: every core); the process is the job's
        # own, so unlike with threads the cap concerns that job alone.
        self._job_threads = job_threads
        self._ctx = _context(preload)
        self._log_format = log_format
        self._supervisors = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="ktrdr-proc"
        )
        # The research worker only waits on its children: a thread is the right home.
        self._orchestration = LocalExecutor(service, max_workers=1, orchestrations=orchestrations)
        self._processes: set[BaseProcess] = set()
        self._lock = threading.Lock()
        self._warming = False

    def ensure_available(self) -> None:
        return None  # worker processes are started on demand, here

    def submit(self, operation_id: str, job: ex.Job) -> ex.JobHandle:
        """Queue ``job``; its operation stays pending until a process slot takes it."""
        self._service.get(operation_id)  # an unknown id fails here, not in a thread
        # Guarded: a supervisor that crashes leaves its operation open, so /health says so.
        future = self._supervisors.submit(
            THREADS.guarded("ktrdr-proc", self._supervise), operation_id, job
        )
        return ex.JobHandle(operation_id, future, self._service)

    def submit_orchestration(self, operation_id: str, work: Callable[[], None]) -> ex.JobHandle:
        # A research cycle designs before it trains: start the fork server meanwhile (its
        # preload takes seconds) so the cycle's training does not wait for it.
        self._warm_fork_server()
        return self._orchestration.submit_orchestration(operation_id, work)

    def _warm_fork_server(self) -> None:
        if self._ctx.get_start_method() != "forkserver":
            return
        with self._lock:
            if self._warming:
                return
            self._warming = True
        from multiprocessing import forkserver

        THREADS.thread(forkserver.ensure_running, name="ktrdr-forkserver-warm").start()

    def _supervise(self, operation_id: str, job: ex.Job) -> None:
        if not ex.start_queued(self._service, operation_id):
            return  # cancelled while it waited for a slot: already recorded as such
        token = self._service.token(operation_id)
        messages: Queue[_Message] = self._ctx.Queue()
        stop = self._ctx.Event()
        try:
            process = self._ctx.Process(  # type: ignore[attr-defined]
                target=_job_main,
                args=(job, messages, stop, self._log_format, os.getpid(), self._job_threads),
                name=f"ktrdr-job-{operation_id}",
                daemon=True,
            )
            process.start()
        except Exception as exc:  # e.g. the job cannot be pickled: a bug, but say so
            ex.record_outcome(
                self._service,
                operation_id,
                ex.Failed(f"Could not start the job process: {type(exc).__name__}: {exc}"),
            )
            return
        with self._lock:
            self._processes.add(process)
        try:
            # Recorded before the process is reaped: a slow exit never delays the outcome.
            ex.record_outcome(
                self._service,
                operation_id,
                self._relay(operation_id, process, messages, stop, token),
            )
        finally:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
            with self._lock:
                self._processes.discard(process)
            messages.close()

    def _relay(
        self,
        operation_id: str,
        process: BaseProcess,
        messages: Queue[_Message],
        stop: Event,
        token: CancellationToken,
    ) -> ex.JobOutcome:
        """Pass progress on until the outcome arrives or the process dies without one."""
        reporter = OperationProgressReporter(self._service, operation_id)
        ended_at: float | None = None
        while True:
            if token.is_cancelled and not stop.is_set():
                stop.set()
            try:
                message = messages.get(timeout=SUPERVISE_SLICE_SECONDS)
            except queue.Empty:
                if not process.is_alive():
                    try:  # the last messages may land just after the exit is seen
                        message = messages.get(timeout=0.5)
                    except queue.Empty:
                        return ex.Failed(_death_message(process.exitcode))
                else:
                    if self._service.get(operation_id).is_terminal:
                        # A forced cancel ended the operation and the job ignores its token.
                        ended_at = ended_at or time.monotonic()
                        if time.monotonic() - ended_at > TERMINATE_AFTER_SECONDS:
                            process.terminate()
                    continue
            if isinstance(message, ProgressUpdate):
                reporter.report(message)
                continue
            if isinstance(message, ex.Stopped) and token.reason:
                return ex.Stopped(message.where, token.reason)
            return message

    def shutdown(self) -> None:
        with self._lock:
            running = list(self._processes)
        for process in running:
            if process.is_alive():
                process.terminate()
        self._supervisors.shutdown(wait=False, cancel_futures=True)
        self._orchestration.shutdown()


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"The job process was killed by {name} (out of memory, or stopped from outside)"
    return f"The job process exited (code {exitcode}) without a result"
