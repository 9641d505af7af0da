"""A training's learning curve as the domain keeps it: one ``EpochRow`` per reported epoch,
and the port (``CurveStore``) through which those rows outlive the process.

``TrainingHistory`` keeps the rows of open trainings in memory and hands them to a
``CurveStore`` in batches, off the service's lock; after a crash and restart the curve of a
training that never completed (cancelled, failed, interrupted) is read back from it. The
adapter lives in ``ktrdr.storage.curves``; the composition root wires it, so this package
never names storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from ktrdr.records.contexts import TrainingProgressContext
from ktrdr.records.results import EpochFigures

# The figures an epoch row keeps beside its number: every one ``EpochFigures`` has, so a
# figure added there is followed here (and in the stored curves) with no change.
FIGURES = tuple(name for name in EpochFigures.model_fields if name != "epoch")


class EpochRow(NamedTuple):
    """One epoch: its number and its other figures' values (float or None), in ``FIGURES``
    order. Two tuples take a fourth of a record's memory, and a long training keeps up to
    ``MAX_EPOCHS_KEPT`` of them."""

    epoch: int
    values: tuple[float | None, ...]

    @classmethod
    def of(cls, epoch: int, context: TrainingProgressContext) -> EpochRow:
        return cls(epoch, tuple(getattr(context, name) for name in FIGURES))

    def figures(self) -> EpochFigures:
        # The values were validated when they were reported (or decoded as floats):
        # constructing skips a second validation of every row of a long curve.
        fields: dict[str, Any] = dict(zip(FIGURES, self.values, strict=True))
        return EpochFigures.model_construct(epoch=self.epoch, **fields)


class CurveStore(Protocol):
    """Where learning curves persist, one per training, appended to as it trains.

    ``read`` serves what is readable: a truncated or partly corrupted curve gives the rows
    that survived (epochs strictly increasing), never an error."""

    def append(self, operation_id: str, rows: Sequence[EpochRow]) -> None:
        """Add ``rows`` (epochs increasing, after any already stored) to the curve."""
        ...

    def read(self, operation_id: str) -> list[EpochRow] | None:
        """The curve's readable rows in epoch order; None when there is no curve."""
        ...

    def finish(self, operation_id: str) -> None:
        """The training ended: make its curve durable (it will not grow any more)."""
        ...

    def remove(self, operation_id: str) -> None:
        """Forget the curve (its training completed with its history, or was pruned)."""
        ...
