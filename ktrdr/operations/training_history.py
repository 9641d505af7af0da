"""The per-epoch history of trainings while they run, kept as their progress reports arrive.

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
  history is its ``result_summary.history``.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

from ktrdr.records.contexts import TrainingProgressContext, training_context_of
from ktrdr.records.models import Operation, OperationType
from ktrdr.records.results import EpochFigures

MAX_EPOCHS_KEPT = 20_000
ENDED_REMEMBERED = 64

# The figures an epoch row keeps beside its number: every one ``EpochFigures`` has, so a
# figure added there is followed here with no change.
_FIGURES = tuple(name for name in EpochFigures.model_fields if name != "epoch")


class EpochRow(NamedTuple):
    """One epoch as kept in memory: its number and its other figures' values, in
    ``_FIGURES`` order. Two tuples take a fourth of a record's memory, and a long
    training keeps up to ``MAX_EPOCHS_KEPT`` of them."""

    epoch: int
    values: tuple[object, ...]

    @classmethod
    def of(cls, epoch: int, context: TrainingProgressContext) -> EpochRow:
        return cls(epoch, tuple(getattr(context, name) for name in _FIGURES))

    def figures(self) -> EpochFigures:
        return EpochFigures.model_validate(
            {"epoch": self.epoch, **dict(zip(_FIGURES, self.values, strict=True))}
        )


def _epoch_of(row: EpochRow) -> int:
    return row.epoch


@dataclass
class _Followed:
    rows: list[EpochRow] = field(default_factory=list)
    epochs_total: int | None = None

    def add(self, row: EpochRow) -> None:
        if self.rows and row.epoch <= self.rows[-1].epoch:
            return  # a repeat or a late report: the answer never goes backwards
        self.rows.append(row)
        if len(self.rows) > MAX_EPOCHS_KEPT:
            # Thin the older half: the curve's shape survives and the newest rows stay.
            half = len(self.rows) // 2
            self.rows[:half] = self.rows[:half:2]


@dataclass(frozen=True)
class EpochsSoFar:
    """A training's epochs as the keeper has them (``epochs`` in order, epoch > since)."""

    epochs: tuple[EpochFigures, ...]
    epochs_total: int | None


class TrainingHistory:
    """Follows open trainings' epochs; feed it every new operation version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, _Followed] = {}
        self._ended: OrderedDict[str, _Followed] = OrderedDict()

    def observe(self, op: Operation) -> None:
        """A new version of ``op`` (any kind): record its epoch, or let it go when it ended.
        Called under the service's lock, so it only touches memory."""
        if op.operation_type is not OperationType.TRAINING:
            return
        with self._lock:
            if op.is_terminal:
                followed = self._open.pop(op.operation_id, None)
                if followed is not None and followed.rows:
                    self._ended[op.operation_id] = followed
                    while len(self._ended) > ENDED_REMEMBERED:
                        self._ended.popitem(last=False)
                return
            context = training_context_of(op)
            if context is None:
                return
            followed = self._open.setdefault(op.operation_id, _Followed())
            if context.total_epochs is not None:
                followed.epochs_total = context.total_epochs
            if context.epoch is not None:
                followed.add(EpochRow.of(context.epoch, context))

    def epochs(self, operation_id: str, since: int | None = None) -> EpochsSoFar | None:
        """The epochs after ``since`` of a followed (or recently ended) training; None when
        it is not followed (unknown, not a training, ended long ago or before any epoch)."""
        with self._lock:
            followed = self._open.get(operation_id) or self._ended.get(operation_id)
            if followed is None:
                return None
            start = 0 if since is None else bisect_right(followed.rows, since, key=_epoch_of)
            rows = followed.rows[start:]
            total = followed.epochs_total
        return EpochsSoFar(tuple(row.figures() for row in rows), total)

    def followed(self) -> int:
        """How many open trainings are followed (for tests and health)."""
        with self._lock:
            return len(self._open)
