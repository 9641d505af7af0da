"""Write-behind persistence: a store in front of a store that coalesces progress writes.

Progress arrives many times a second per running job; writing each report to SQLite
would cost more than the report itself. This store writes a change through at once when
it matters to someone reading the database after a crash (creation, a status change, a
cancel request, new parameters, a result) and otherwise keeps only the newest snapshot
of each operation, flushed every ``flush_interval`` seconds by its own thread.

Snapshots are immutable ``Operation`` values, so holding one costs nothing and it cannot
change before it is written. A write-through that fails (a busy or full disk) is kept and
retried by the flusher; until it succeeds the store reports itself ``degraded`` and
``unwritten`` names the operations whose newest change exists only in memory (a cancel the
API answered but a kill would lose).

``file_check`` says whether the database file is still the one opened (see
``ktrdr.storage.file_identity``): the flusher asks every interval and every write asks
first. A removed or replaced file degrades the store for good: nothing more is written to
the orphaned file, and creating an operation raises ``StoreFileReplacedError``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from ktrdr.errors import StorageUnavailableError, StoreFileReplacedError
from ktrdr.logging import get_logger
from ktrdr.operations.store import OperationQuery, OperationStore, Tally
from ktrdr.operations.threads import watched_thread
from ktrdr.records.models import Operation
from ktrdr.records.summary import OperationSummary


def _needs_write_through(new: Operation, last: Operation | None) -> bool:
    if last is None:
        return True
    return (
        new.status is not last.status
        or new.cancel_requested != last.cancel_requested
        or new.metadata is not last.metadata
        or new.result_summary is not last.result_summary
        or new.error_message != last.error_message
    )


class WriteBehindStore:
    def __init__(
        self,
        inner: OperationStore,
        *,
        flush_interval: float = 0.5,
        file_check: Callable[[], str | None] | None = None,
    ) -> None:
        self._inner = inner
        self._flush_interval = flush_interval
        self._file_check = file_check
        self._lock = threading.Lock()
        self._written: dict[str, Operation] = {}  # the last snapshot handed on, per open id
        self._dirty: dict[str, Operation] = {}
        self._failure: str | None = None
        self._file_problem: str | None = None  # once set, for good: the file is gone
        self._unsaved: set[str] = set()  # ids whose newest change a failed write still holds
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if flush_interval > 0:
            # Watched: a flusher that dies shows in /health instead of silently stopping.
            self._flusher = watched_thread(self._flush_loop, name="ktrdr-operations-flusher")
            self._flusher.start()

    @property
    def degraded(self) -> str | None:
        """Why the last write failed, while writes are failing (or why none can succeed any
        more: the file was removed or replaced); None when all is written."""
        return self._file_problem or self._failure

    def unwritten(self, operation_ids: Iterable[str]) -> list[str]:
        """Those of ``operation_ids`` whose newest change is only in memory because writing
        it failed: a kill now would lose it (e.g. a cancel the API already answered)."""
        with self._lock:
            return [i for i in operation_ids if i in self._unsaved]

    # ------------------------------------------------------------------ store protocol
    def load_open(self) -> list[Operation]:
        loaded = self._inner.load_open()
        with self._lock:
            self._written.update((op.operation_id, op) for op in loaded)
        return loaded

    def get(self, operation_id: str) -> Operation | None:
        with self._lock:
            pending = self._dirty.get(operation_id)
        return pending if pending is not None else self._inner.get(operation_id)

    def page(self, query: OperationQuery) -> list[OperationSummary]:
        return self._inner.page(query)

    def count(self, query: OperationQuery) -> int:
        return self._inner.count(query)

    def tally(self) -> Tally:
        return self._inner.tally()

    def save_many(self, operations: Iterable[Operation]) -> None:
        now: list[Operation] = []
        with self._lock:
            for op in operations:
                last = self._written.get(op.operation_id)
                if self._flush_interval > 0 and not _needs_write_through(op, last):
                    self._dirty[op.operation_id] = op
                    continue
                self._dirty.pop(op.operation_id, None)
                now.append(op)
        if now:
            self._write(now, known=[op.operation_id in self._written for op in now])

    def flush(self) -> None:
        """Write every coalesced snapshot now; raises nothing (a failure stays queued)."""
        with self._lock:
            batch = list(self._dirty.values())
            self._dirty.clear()
        if batch:
            self._write(batch, known=[True] * len(batch))

    def close(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=2)
        self.flush()
        with self._lock:
            lost = len(self._unsaved)
        if lost:  # the last chance has passed: say what the next start will not find
            get_logger("ktrdr.store").error(
                "operations whose latest changes could not be saved before closing",
                count=lost,
                cause=self.degraded,
            )
        self._inner.close()

    # ------------------------------------------------------------------ internals
    def _write(self, batch: list[Operation], known: list[bool]) -> None:
        """Write ``batch``; on failure keep it for the flusher to retry. The failure is
        raised only when the batch creates a row (``known`` False): the caller must then
        undo the creation, since nothing of it exists on disk."""
        try:
            problem = self._check_file()
            if problem is not None:
                raise StoreFileReplacedError(
                    f"Nothing was started: {problem}.", details={"cause": "store_file_replaced"}
                )
            self._inner.save_many(batch)
        except Exception as exc:
            self._keep_failed(batch, exc)
            if all(known):
                return
            with self._lock:
                for op, was_known in zip(batch, known, strict=True):
                    if not was_known:
                        self._dirty.pop(op.operation_id, None)
                        self._unsaved.discard(op.operation_id)
            if isinstance(exc, StoreFileReplacedError):
                raise
            raise StorageUnavailableError(
                f"The operations database cannot be written ({type(exc).__name__}: "
                f"{exc}); nothing was started. Try again when it is writable.",
                details={"cause": f"{type(exc).__name__}: {exc}"},
            ) from exc
        self._mark_written(batch)

    def _keep_failed(self, batch: list[Operation], exc: Exception) -> None:
        with self._lock:
            for op in batch:  # keep the newest of each for the next pass
                current = self._dirty.get(op.operation_id)
                if current is None or current.version < op.version:
                    self._dirty[op.operation_id] = op
                self._unsaved.add(op.operation_id)
            if isinstance(exc, StoreFileReplacedError):
                return  # said once already, and degraded for good (_check_file)
            if self._failure is None:
                get_logger("ktrdr.store").error("operations store write failed", error=str(exc))
            self._failure = f"{type(exc).__name__}: {exc}"

    def _mark_written(self, batch: list[Operation]) -> None:
        with self._lock:
            for op in batch:
                pending = self._dirty.get(op.operation_id)
                if pending is None or pending.version <= op.version:  # nothing newer failed
                    self._unsaved.discard(op.operation_id)
                if op.is_terminal:
                    self._written.pop(op.operation_id, None)  # history: nothing to compare
                else:
                    self._written[op.operation_id] = op
            if self._failure is not None and not self._dirty:
                get_logger("ktrdr.store").info("operations store writable again")
                self._failure = None

    def _check_file(self) -> str | None:
        """The file problem, looked for now (one ``stat``) unless already found."""
        if self._file_problem is not None or self._file_check is None:
            return self._file_problem
        problem = self._file_check()
        if problem is None:
            return None
        with self._lock:
            first = self._file_problem is None
            self._file_problem = problem
        if first:
            get_logger("ktrdr.store").error(
                "the operations database file was removed or replaced: nothing more is saved "
                "and new work is refused until the backend restarts"
            )
        return problem

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._flush_interval):
            self._check_file()  # also when nothing is written: an idle backend must notice
            self.flush()
