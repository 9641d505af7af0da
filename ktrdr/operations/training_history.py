"""The per-epoch history of trainings, kept as their progress reports arrive, and kept
beyond the process through a ``CurveStore`` (``ktrdr.operations.curves``).

A training's progress context carries only its latest epoch (``TrainingProgressContext``);
a chart that grows while it trains needs every epoch so far. ``TrainingHistory`` listens to
the service's changes (``OperationsService.add_listener``), so it sees the reports of every
executor (thread, process, Dask) at the one place they all reach.

What it promises a reader:
- epochs strictly increase, never repeat: a report whose epoch is not past the last one
  kept (a coalesced or replayed report) is ignored; a missed epoch is simply absent;
- memory is bounded: only open trainings are followed, each keeps at most
  ``MAX_EPOCHS_KEPT`` rows (beyond that, every other older row is dropped, oldest first
  thinned, the newest kept), and a few recently ended ones are remembered for trainings
  whose result has no history (cancelled or failed ones); a completed training's full
  history is its ``result_summary.history``;
- with a curve store, every epoch kept is also handed to the store by a flusher thread
  every ``flush_interval`` seconds (never under the service's lock), unthinned: an epoch
  reported more than one interval (plus one write) before a crash, even a kill -9, is in
  the store. A training that ended without a history in its result (or that a crash cut
  short) is answered from the store once memory no longer has it; a training that
  completed with its history has its stored curve removed, its result being the record.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial

from ktrdr.logging import get_logger
from ktrdr.operations.curves import CurveStore, EpochRow
from ktrdr.records.contexts import training_context_of
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.results import EpochFigures, training_summary_of

MAX_EPOCHS_KEPT = 20_000
ENDED_REMEMBERED = 64


def _epoch_of(row: EpochRow) -> int:
    return row.epoch


@dataclass
class _Followed:
    rows: list[EpochRow] = field(default_factory=list)
    epochs_total: int | None = None

    def add(self, row: EpochRow) -> bool:
        """Keep ``row``; False when it is a repeat or late (and was not kept)."""
        if self.rows and row.epoch <= self.rows[-1].epoch:
            return False  # a repeat or a late report: the answer never goes backwards
        self.rows.append(row)
        if len(self.rows) > MAX_EPOCHS_KEPT:
            # Thin the older half: the curve's shape survives and the newest rows stay.
            half = len(self.rows) // 2
            self.rows[:half] = self.rows[:half:2]
        return True


@dataclass(frozen=True)
class EpochsSoFar:
    """A training's epochs as the keeper has them (in order, epoch > since): ``rows`` as
    kept, ``epochs`` as records (made when first asked for: a reader that sends only a
    few of a long curve's rows thins ``rows`` first)."""

    rows: tuple[EpochRow, ...]
    epochs_total: int | None

    @cached_property
    def epochs(self) -> tuple[EpochFigures, ...]:
        return tuple(row.figures() for row in self.rows)


@dataclass
class _Outbox:
    """What the flusher owes the curve store: rows per training, then ends and removals."""

    rows: dict[str, list[EpochRow]] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rows or self.finished or self.removed)


class TrainingHistory:
    """Follows open trainings' epochs; feed it every new operation version.

    ``curves``: where the epochs persist (None: memory only, as an ephemeral backend).
    ``flush_interval``: seconds between writes to it; 0 writes each epoch as it is observed.
    Call ``close`` to write what is pending and stop the flusher."""

    def __init__(self, curves: CurveStore | None = None, *, flush_interval: float = 0.5) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, _Followed] = {}
        self._ended: OrderedDict[str, _Followed] = OrderedDict()
        self._curves = curves
        self._interval = flush_interval
        self._outbox = _Outbox()
        # One writer at a time: two flushes taking turns could append a training's rows
        # out of order, and the reader keeps only increasing epochs.
        self._write_lock = threading.Lock()
        self._failing = False
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if curves is not None and flush_interval > 0:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="ktrdr-curves-flusher", daemon=True
            )
            self._flusher.start()

    def observe(self, op: Operation) -> None:
        """A new version of ``op`` (any kind): record its epoch, or let it go when it ended.
        Called under the service's lock, so it only touches memory (unless the flush
        interval is 0, which asks for each epoch to be written at once)."""
        if op.operation_type is not OperationType.TRAINING:
            return
        with self._lock:
            if op.is_terminal:
                self._end(op)
            else:
                self._record(op)
        if self._curves is not None and self._interval <= 0:
            self.flush()

    def _record(self, op: Operation) -> None:
        context = training_context_of(op)
        if context is None:
            return
        followed = self._open.setdefault(op.operation_id, _Followed())
        if context.total_epochs is not None:
            followed.epochs_total = context.total_epochs
        if context.epoch is None:
            return
        row = EpochRow.of(context.epoch, context)
        if followed.add(row) and self._curves is not None:
            self._outbox.rows.setdefault(op.operation_id, []).append(row)

    def _end(self, op: Operation) -> None:
        followed = self._open.pop(op.operation_id, None)
        if followed is not None and followed.rows:
            self._ended[op.operation_id] = followed
            while len(self._ended) > ENDED_REMEMBERED:
                self._ended.popitem(last=False)
        if self._curves is None or followed is None:
            return  # never followed here: nothing of it was written by this process
        summary = training_summary_of(op)
        if op.status is OperationStatus.COMPLETED and summary is not None and summary.history:
            self._outbox.removed.append(op.operation_id)
        else:
            self._outbox.finished.append(op.operation_id)

    def epochs(self, operation_id: str, since: int | None = None) -> EpochsSoFar | None:
        """The epochs after ``since`` of a followed (or recently ended) training, else of
        its stored curve; None when there is neither (unknown, not a training, ended
        before any epoch, or completed with its history in its result)."""
        with self._lock:
            followed = self._open.get(operation_id) or self._ended.get(operation_id)
            if followed is not None:
                return EpochsSoFar(tuple(_after(followed.rows, since)), followed.epochs_total)
        stored = self._curves.read(operation_id) if self._curves is not None else None
        if stored is None:
            return None
        # The planned total is the operation's (its parameters), not the curve's.
        return EpochsSoFar(tuple(_after(stored, since)), None)

    def forget(self, operation_id: str) -> None:
        """Drop a training's epochs everywhere, its stored curve too (its operation's
        data is being removed)."""
        with self._lock:
            self._open.pop(operation_id, None)
            self._ended.pop(operation_id, None)
            self._outbox.rows.pop(operation_id, None)
            if self._curves is not None:
                self._outbox.removed.append(operation_id)
        self.flush()

    def followed(self) -> int:
        """How many open trainings are followed (for tests and health)."""
        with self._lock:
            return len(self._open)

    # ------------------------------------------------------------------ persistence
    def flush(self) -> None:
        """Hand every pending epoch, end and removal to the curve store now. A failing
        write is logged (once, until writes work again) and its rows are not retried:
        memory still serves them while this process lives."""
        if self._curves is None:
            return
        with self._write_lock:
            with self._lock:
                outbox, self._outbox = self._outbox, _Outbox()
            if outbox:
                self._write(self._curves, outbox)

    def close(self) -> None:
        """Stop the flusher and write what is pending."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self.flush()

    def _write(self, curves: CurveStore, outbox: _Outbox) -> None:
        problem: str | None = None
        writes = [partial(curves.append, op_id, rows) for op_id, rows in outbox.rows.items()]
        writes += [partial(curves.finish, op_id) for op_id in outbox.finished]
        writes += [partial(curves.remove, op_id) for op_id in outbox.removed]
        for write in writes:  # in this order: a curve's last rows before its end
            problem = _attempt(write) or problem
        if problem is not None and not self._failing:
            get_logger("ktrdr.curves").error("learning curves cannot be written", error=problem)
        elif problem is None and self._failing:
            get_logger("ktrdr.curves").info("learning curves written again")
        self._failing = problem is not None

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()


def _after(rows: list[EpochRow], since: int | None) -> list[EpochRow]:
    start = 0 if since is None else bisect_right(rows, since, key=_epoch_of)
    return rows[start:]


def _attempt(write: Callable[[], None]) -> str | None:
    """Run one write; what went wrong, or None."""
    try:
        write()
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
