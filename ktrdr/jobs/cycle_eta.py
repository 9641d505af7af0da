"""The ETA's history: this backend's completed research cycles, read from its store once,
kept in memory, and grown by each cycle that completes (never a scan per request).

``CycleEtas`` is a listener of the service (``observe``): a cycle that completes is noted
(under the service's lock, so only its id), and read the next time an estimate is asked
for, while it is still in memory. The history from before this process is read by one
background thread at start (``start``), newest first and at most ``HISTORY_KEPT``
cycles, so no reader ever waits for the store: until it is read, there is no estimate.
Failed and cancelled cycles never enter it.

A cycle's executor and workers are the ones it recorded in its parameters (``executor``,
``workers``); a cycle that recorded none is taken to have run on this backend's.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ktrdr.agents.cycle_timeline import (
    ChildTimes,
    completed_cycle,
    cycle_key,
    cycle_series,
    cycle_size,
    live_cycle,
)
from ktrdr.errors import KtrdrError
from ktrdr.logging import get_logger
from ktrdr.operations.eta import CycleSize, Eta, PastCycle, estimate
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation, OperationStatus, OperationType, utcnow

HISTORY_KEPT = 500  # the newest completed cycles read at start
_PAGE = 100
_CHILDREN_READ = 1000  # a cycle's children read for its timeline (a default one has ~40)
_BARS_SECONDS = 300.0  # how long a series' bar count is trusted (an import may grow it)
_EPOCHS_KEPT = 64  # running cycles whose designs' epochs are remembered

BarsOf = Callable[[str, str], int | None]


@dataclass(frozen=True)
class _Ended:
    completed_at: float
    operation_id: str
    past: PastCycle


class CycleEtas:
    """Estimates for running research cycles from this backend's completed ones."""

    def __init__(
        self,
        service: OperationsService,
        *,
        executor: str,
        workers: int,
        bars_of: BarsOf,
        kept: int = HISTORY_KEPT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``clock``: the service's (the times of operations are read against it)."""
        self._service = service
        self._clock = clock
        self._executor = executor
        self._workers = workers
        self._bars_of = bars_of
        self._kept = kept
        self._lock = threading.Lock()
        self._history: tuple[PastCycle, ...] | None = None  # None until read
        self._ended: dict[str, _Ended] = {}
        self._pending: list[str] = []  # completed since, not read yet
        self._bars: dict[tuple[str, str], tuple[float, int | None]] = {}
        self._epochs: OrderedDict[str, float] = OrderedDict()
        self._loader: threading.Thread | None = None
        self._closed = False

    # ------------------------------------------------------------------ feeding
    def observe(self, op: Operation) -> None:
        """The service's listener: note a cycle that completed (memory only, no reading)."""
        if op.operation_type is OperationType.AGENT_RESEARCH and (
            op.status is OperationStatus.COMPLETED
        ):
            with self._lock:
                self._pending.append(op.operation_id)

    def start(self) -> None:
        """Read the stored history in a background thread (estimates wait for nothing)."""
        self._loader = threading.Thread(target=self.load, name="cycle-eta-history", daemon=True)
        self._loader.start()

    def load(self) -> None:
        """Read the newest completed cycles from the store (``start`` runs this)."""
        found: list[_Ended] = []
        try:
            for operation_id in self._stored_ids():
                if self._closed:
                    return
                ended = self._read(operation_id)
                if ended is not None:
                    found.append(ended)
        except Exception as exc:  # a store that fails: no history, never a failed read
            get_logger("ktrdr.eta").warning("cycle history not read", error=str(exc))
        with self._lock:
            for ended in found:
                self._ended.setdefault(ended.operation_id, ended)
            self._publish()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background read (tests, benchmarks)."""
        if self._loader is not None:
            self._loader.join(timeout)

    @property
    def history(self) -> tuple[PastCycle, ...]:
        """The completed cycles known so far, in the order they completed."""
        self._drain()
        return self._history or ()

    # ------------------------------------------------------------------ estimating
    def estimate(self, cycle: Operation, children: Sequence[Operation] | None = None) -> Eta | None:
        """The ETA of a pending or running research cycle (None for anything else, before
        the history is read, or with fewer than 3 comparable cycles). ``children``: its
        children when the caller holds them already (a tree read)."""
        if cycle.operation_type is not OperationType.AGENT_RESEARCH or cycle.is_terminal:
            return None
        try:
            return self._estimate(cycle, children)
        except Exception as exc:  # an ETA is a courtesy: its fault never fails a read
            get_logger("ktrdr.eta").warning(
                "no ETA", operation_id=cycle.operation_id, error=f"{type(exc).__name__}: {exc}"
            )
            return None

    def _estimate(self, cycle: Operation, children: Sequence[Operation] | None) -> Eta | None:
        history = self._drain()
        if not history:
            return None
        now = self._clock()
        params = cycle.metadata.parameters
        times = self._children(cycle, children)
        key = cycle_key(params, self._executor, self._workers)
        size = cycle_size(params, times, self._series_bars(params))
        if size.epochs is None and children is None:
            size = CycleSize(size.bars, self._designed_epochs(cycle.operation_id))
        started = cycle.started_at or now
        live = live_cycle(key, size, started, params.get("phase"), times, now)
        return estimate(history, live) if live is not None else None

    def close(self) -> None:
        """Stop reading the stored history (the service is about to close)."""
        self._closed = True
        self.join(5.0)

    # ------------------------------------------------------------------ internals
    def _drain(self) -> tuple[PastCycle, ...] | None:
        """The history with every cycle completed since read into it."""
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return self._history
        read = [self._read(operation_id) for operation_id in pending]
        with self._lock:
            for ended in read:
                if ended is not None:
                    self._ended.setdefault(ended.operation_id, ended)
            if self._history is not None:
                self._publish()
            return self._history

    def _publish(self) -> None:
        """Order the history by completion and keep the newest (under the lock)."""
        ordered = sorted(self._ended.values(), key=lambda e: e.completed_at)[-self._kept :]
        self._ended = {e.operation_id: e for e in ordered}
        self._history = tuple(e.past for e in ordered)

    def _stored_ids(self) -> list[str]:
        ids: list[str] = []
        while len(ids) < self._kept:
            rows, _ = self._service.list_operations(
                status=OperationStatus.COMPLETED,
                operation_type=OperationType.AGENT_RESEARCH,
                limit=min(_PAGE, self._kept - len(ids)),
                offset=len(ids),
            )
            ids += [row.operation_id for row in rows]
            if len(rows) < _PAGE:
                break
        return ids

    def _read(self, operation_id: str) -> _Ended | None:
        """A completed cycle as the history keeps it (None if it cannot be timed)."""
        try:
            return self._timed(operation_id)
        except Exception as exc:  # one unreadable cycle leaves the rest of the history be
            get_logger("ktrdr.eta").warning(
                "cycle left out of the ETA's history",
                operation_id=operation_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            return None

    def _timed(self, operation_id: str) -> _Ended | None:
        tree = self._service.tree(operation_id)
        cycle = tree.root
        bars = self._series_bars(cycle.metadata.parameters)
        past = completed_cycle(cycle, tree.nodes[1:], self._executor, self._workers, bars)
        if past is None or cycle.completed_at is None:
            return None
        return _Ended(cycle.completed_at.timestamp(), operation_id, past)

    def _children(self, cycle: Operation, given: Sequence[Operation] | None) -> list[ChildTimes]:
        if given is not None:
            mine = cycle.operation_id
            return [ChildTimes.of(op) for op in given if op.parent_operation_id == mine]
        rows = self._service.children(cycle.operation_id, limit=_CHILDREN_READ)
        with self._lock:
            known = cycle.operation_id in self._epochs
        if not known and _whole_epochs(cycle.metadata.parameters) is None:
            trainings = [r.operation_id for r in rows if r.operation_type is OperationType.TRAINING]
            self._read_epochs(cycle.operation_id, trainings)
        return [ChildTimes.of_summary(row) for row in rows]

    def _read_epochs(self, operation_id: str, trainings: Sequence[str]) -> None:
        """The mean epochs of a cycle's designs, read once from its trainings (a listing
        row has no parameters) and remembered while it runs."""
        epochs = [
            e
            for e in (_whole_epochs(self._service.peek(t).metadata.parameters) for t in trainings)
            if e is not None
        ]
        if not epochs:
            return
        with self._lock:
            self._epochs[operation_id] = sum(epochs) / len(epochs)
            while len(self._epochs) > _EPOCHS_KEPT:
                self._epochs.popitem(last=False)

    def _designed_epochs(self, operation_id: str) -> float | None:
        with self._lock:
            return self._epochs.get(operation_id)

    def _series_bars(self, params: Mapping[str, object]) -> int | None:
        series = cycle_series(params)
        if series is None:
            return None
        now = time.monotonic()
        known = self._bars.get(series)
        if known is not None and now - known[0] < _BARS_SECONDS:
            return known[1]
        try:
            bars = self._bars_of(*series)
        except (KtrdrError, OSError):  # a series gone or unreadable: its size is unknown
            bars = None
        self._bars[series] = (now, bars)
        return bars


def _whole_epochs(params: Mapping[str, object]) -> int | None:
    value = params.get("epochs")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
