"""The worker side of a cluster job: the Dask task that runs one ktrdr job.

Progress and cancellation cross the cluster through Dask's own channels, so a worker
needs nothing but the scheduler (no route to the backend, no API token):

* **progress** goes out with ``Worker.log_event`` on one topic that the backend's client
  subscribes to (``Client.subscribe_topic``). It is fire-and-forget and batched: the job
  never waits on the network (measured on distributed 2026.8, 2 cores: +7 % wall time for
  2,000 reports, delivery 51 ms median). A Dask ``Queue`` delivers faster (~1 ms) but each
  ``put`` is a round trip on the job's own thread and leaves one queue per operation on
  the scheduler to clean up; Dask's ``Pub``/``Sub`` no longer exist; the HTTP API would
  need every worker to reach the backend and hold its token. Reports are throttled to
  ``MAX_REPORTS_PER_SECOND`` (only the latest matters: progress is absolute) and the
  last one is always sent. The backend's OperationsService stays the only writer.
* **cancellation** is a Dask ``Event`` per operation that the backend sets when the
  operation's token is cancelled. A watcher thread here polls it every
  ``CANCEL_POLL_SECONDS`` (one small round trip) and flips the job's local token, so the
  job's checkpoints stay in-memory reads and a cancel reaches the job well under 1 s.
* **outputs**: the job's output directories point at a temporary directory on this
  worker; the task returns the bytes of every file written there (``ktrdr.executors.dask.cargo``
  stores them on the backend).
"""

from __future__ import annotations

import json
import pickle
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from distributed import Event, get_client, get_worker

from ktrdr.errors import KtrdrError
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.execution import Completed, Failed, Job, JobOutcome, Stopped
from ktrdr.operations.progress import ProgressUpdate

PROGRESS_TOPIC = "ktrdr-progress"
MAX_REPORTS_PER_SECOND = 20
CANCEL_POLL_SECONDS = 0.1
# A worker that cannot ask the scheduler for this long stops its job: its result could
# not come back anyway.
SCHEDULER_LOST_SECONDS = 5.0

Message = dict[str, Any]


def cancel_event_name(operation_id: str) -> str:
    return f"ktrdr-cancel-{operation_id}"


@dataclass(frozen=True)
class TaskResult:
    """What a task sends back: the outcome, who ran it, and the files the job wrote
    (per output field: path relative to that field's directory -> bytes)."""

    outcome: JobOutcome
    worker: str
    workdirs: dict[str, str] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    # The job's last report again: the event topic may deliver it after this result.
    last_report: Message | None = None


def progress_message(operation_id: str, update: ProgressUpdate) -> Message:
    """A report as plain msgpack-able data (numpy scalars in a context become floats)."""
    context = None
    if update.context is not None:
        context = json.loads(json.dumps(dict(update.context), default=_plain))
    return {
        "op": operation_id,
        "kind": "progress",
        "percentage": float(update.percentage),
        "current_step": update.current_step,
        "items_processed": update.items_processed,
        "items_total": update.items_total,
        "context": context,
    }


def update_from_message(message: Mapping[str, Any]) -> ProgressUpdate:
    return ProgressUpdate(
        percentage=float(message["percentage"]),
        current_step=message.get("current_step"),
        items_processed=message.get("items_processed"),
        items_total=message.get("items_total"),
        context=message.get("context"),
    )


def _plain(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


class ThrottledReporter:
    """Sends at most ``MAX_REPORTS_PER_SECOND`` reports; a report held back is sent when
    its turn comes (by a sender thread, so a long step never hides it), and ``close``
    sends whatever is still held."""

    def __init__(self, operation_id: str, send: Callable[[Message], None]) -> None:
        self._operation_id = operation_id
        self._send = send
        self._interval = 1.0 / MAX_REPORTS_PER_SECOND
        self._pending: ProgressUpdate | None = None
        self.last: Message | None = None
        self._last_sent = 0.0
        self._closed = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="ktrdr-progress", daemon=True)
        self._thread.start()

    def report(self, update: ProgressUpdate) -> None:
        with self._wake:
            self._pending = update
            self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while not self._closed:
                if self._pending is None:
                    self._wake.wait()
                    continue
                delay = self._last_sent + self._interval - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                self._flush_locked()

    def _flush_locked(self) -> None:
        update, self._pending = self._pending, None
        if update is not None:
            self._last_sent = time.monotonic()
            self.last = progress_message(self._operation_id, update)
            self._send(self.last)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._flush_locked()
            self._wake.notify()
        self._thread.join(timeout=1)


class EventToken(CancellationToken):
    """A CancellationToken set by a watcher thread that polls ``is_set`` (the operation's
    Dask Event), so the job's own checks never wait on the network."""

    def __init__(self, is_set: Callable[[], bool]) -> None:
        super().__init__()
        self._is_set = is_set
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="ktrdr-cancel", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        failing_since: float | None = None
        while not self._done.is_set():  # at once first: it may have been cancelled queued
            try:
                if self._is_set():
                    self.cancel("Cancelled")
                    return
                failing_since = None
            except Exception:  # the scheduler is unreachable right now
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > SCHEDULER_LOST_SECONDS:
                    self.cancel("Lost contact with the Dask scheduler")
                    return
            self._done.wait(CANCEL_POLL_SECONDS)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=1)


def run_on_worker(
    operation_id: str, pickled_job: bytes, output_fields: tuple[str, ...]
) -> TaskResult:
    """The Dask task: run the job (a pickled dataclass) with its ``output_fields``
    directories in a temporary directory here; return its outcome and the files it wrote.

    The job travels as bytes so that only this thread unpickles it: the scheduler (which
    unpickles task arguments) never imports the engines, and the worker's event loop keeps
    answering heartbeats while the job's modules load."""
    worker = get_worker()

    def send(message: Message) -> None:
        worker.log_event(PROGRESS_TOPIC, {**message, "worker": worker.address})

    # First thing, and with no round trip: the backend marks the operation running (or,
    # if it was cancelled while queued, sets its Event, which the token reads at once).
    send({"op": operation_id, "kind": "started"})
    job = pickle.loads(pickled_job)  # a dataclass job (see ktrdr.executors.dask.cargo.pack)
    event = Event(cancel_event_name(operation_id), client=get_client())
    with tempfile.TemporaryDirectory(prefix="ktrdr-job-") as tmp:
        workdirs = {name: Path(tmp) / name for name in output_fields}
        placed: Job = replace(job, **workdirs)
        token = EventToken(event.is_set)
        reporter = ThrottledReporter(operation_id, send)
        outcome: JobOutcome
        try:
            outcome = Completed(dict(placed(reporter, token)))
        except CancellationRequested as exc:
            outcome = Stopped(exc.where, token.reason if token.is_cancelled else "")
        except KtrdrError as exc:
            outcome = Failed(exc.message)
        except Exception as exc:  # a bug or a library error: it must come back as an outcome
            outcome = Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            token.stop()
            reporter.close()
        files = _collect(workdirs) if isinstance(outcome, Completed) else {}
        return TaskResult(
            outcome,
            worker.address,
            workdirs={name: str(path) for name, path in workdirs.items()},
            files=files,
            last_report=reporter.last,
        )


def _collect(workdirs: Mapping[str, Path]) -> dict[str, dict[str, bytes]]:
    collected: dict[str, dict[str, bytes]] = {}
    for name, root in workdirs.items():
        if root.is_dir():
            collected[name] = {
                path.relative_to(root).as_posix(): path.read_bytes()
                for path in sorted(root.rglob("*"))
                if path.is_file()
            }
    return collected
