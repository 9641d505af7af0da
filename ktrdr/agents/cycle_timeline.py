"""A research cycle's time, read from its records for the ETA (``ktrdr.operations.eta``):
where each phase began and ended, how much of the current one is done, the cycle's key
and the size of its work. Pure: it reads records handed to it.

The phase machine does not stamp its phases, but the children do: designing ends when the
first child is created, training when the last training ends (a walk-forward cycle enters
backtesting once every training has ended), backtesting when the last backtest ends, and
assessing when the cycle completes. The same rule reads a completed cycle and a running
one, so the durations the estimator compares are measured alike.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ktrdr.agents.design.builtin import DEFAULT_SYMBOL, DEFAULT_TIMEFRAME
from ktrdr.operations.eta import PHASES, Curve, CycleKey, CycleSize, LiveCycle, PastCycle
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.summary import OperationSummary

_DESIGNING, _TRAINING, _BACKTESTING, _ASSESSING = range(len(PHASES))


@dataclass(frozen=True)
class ChildTimes:
    """What the timeline reads of one child: its kind, when it was created, started and
    ended, how far it is, and (a training's) its epochs."""

    kind: OperationType
    status: OperationStatus
    created_at: datetime
    completed_at: datetime | None
    percentage: float
    epochs: int | None = None
    started_at: datetime | None = None

    @classmethod
    def of(cls, op: Operation) -> ChildTimes:
        epochs = op.metadata.parameters.get("epochs")
        return cls(
            op.operation_type,
            op.status,
            op.created_at,
            op.completed_at,
            op.progress.percentage,
            _whole(epochs),
            op.started_at,
        )

    @classmethod
    def of_summary(cls, row: OperationSummary, epochs: int | None = None) -> ChildTimes:
        """A listing row's times (a row has no parameters: ``epochs`` comes apart)."""
        return cls(
            row.operation_type,
            row.status,
            row.created_at,
            row.completed_at,
            row.percentage,
            epochs,
            row.started_at,
        )

    @property
    def ended(self) -> bool:
        return self.status.is_terminal


def cycle_key(parameters: Mapping[str, Any], executor: str, workers: int) -> CycleKey:
    """The cycle's key from its recorded parameters; ``executor`` and ``workers`` are the
    backend's, used when the cycle did not record its own."""
    recorded_executor = parameters.get("executor")
    recorded_workers = _whole(parameters.get("workers"))
    designer = parameters.get("designer")
    return CycleKey(
        executor=recorded_executor if isinstance(recorded_executor, str) else executor,
        workers=recorded_workers if recorded_workers is not None else workers,
        folds=_whole(parameters.get("folds")) or 0,
        candidates=_whole(parameters.get("candidates")) or 1,
        patience=_whole(parameters.get("patience")),
        designer=designer if isinstance(designer, str) else None,
        epochs_given=_whole(parameters.get("epochs")) is not None,
    )


def cycle_series(parameters: Mapping[str, Any]) -> tuple[str, str] | None:
    """The series (symbol, timeframe) whose bars size the cycle's work, as its trigger
    said it; the designers' default when it said none; None for a user's strategy that
    brings its own (its series is not in the parameters)."""
    symbol, timeframe = parameters.get("symbol"), parameters.get("timeframe")
    if not isinstance(symbol, str) and parameters.get("designer") == "given":
        return None
    return (
        symbol.upper() if isinstance(symbol, str) else DEFAULT_SYMBOL,
        timeframe if isinstance(timeframe, str) else DEFAULT_TIMEFRAME,
    )


def cycle_size(
    parameters: Mapping[str, Any], children: Sequence[ChildTimes], bars: int | None
) -> CycleSize:
    """The bars of its series, and its epochs: those the trigger gave, else the mean of
    its trainings' (known once designed), else None."""
    given = _whole(parameters.get("epochs"))
    if given is not None:
        return CycleSize(bars, float(given))
    epochs = [c.epochs for c in children if c.kind is OperationType.TRAINING and c.epochs]
    return CycleSize(bars, float(statistics.mean(epochs)) if epochs else None)


def past_cycle(
    key: CycleKey,
    size: CycleSize,
    started_at: datetime,
    completed_at: datetime,
    children: Sequence[ChildTimes],
) -> PastCycle | None:
    """A completed cycle's phase durations, and how its trainings' work went in time; None
    when its children cannot tell them (none, or some never ended)."""
    if not children or not all(c.ended for c in children):
        return None
    bounds = [started_at, _first_created(children), _last_end(children, OperationType.TRAINING)]
    bounds += [_last_end(children, OperationType.BACKTESTING), completed_at]
    ends = _monotone(bounds, completed_at)
    durations = tuple((b - a).total_seconds() for a, b in zip(ends, ends[1:], strict=False))
    designing, training, backtesting, assessing = durations
    trainings = [c for c in children if c.kind is OperationType.TRAINING]
    curves = ((), work_curve(trainings, ends[_TRAINING], ends[_TRAINING + 1]))
    return PastCycle(key, size, (designing, training, backtesting, assessing), curves)


def completed_cycle(
    cycle: Operation, children: Sequence[Operation], executor: str, workers: int, bars: int | None
) -> PastCycle | None:
    """A research cycle as history for the ETA: None unless it completed (failed and
    cancelled cycles never count) and its children tell its phases. ``executor`` and
    ``workers`` stand in where the cycle did not record its own; ``bars``: its series'."""
    if cycle.status is not OperationStatus.COMPLETED or cycle.completed_at is None:
        return None
    params = cycle.metadata.parameters
    times = [ChildTimes.of(op) for op in children]
    key = cycle_key(params, executor, workers)
    size = cycle_size(params, times, bars)
    started = cycle.started_at or cycle.created_at
    return past_cycle(key, size, started, cycle.completed_at, times)


def work_curve(children: Sequence[ChildTimes], start: datetime, end: datetime) -> Curve:
    """How ``children``'s work (their mean share done, each child's growing evenly from its
    start to its end) went between ``start`` and ``end``: the knots where it bends."""
    span = (end - start).total_seconds()
    runs = [
        ((c.started_at or c.completed_at) - start, c.completed_at - start)
        for c in children
        if c.completed_at is not None
    ]
    if span <= 0 or not runs:
        return ()
    spans = [(a.total_seconds(), b.total_seconds()) for a, b in runs]
    moments = sorted({0.0, span, *(min(span, max(0.0, t)) for run in spans for t in run)})
    return tuple((_mean_done(spans, moment), moment / span) for moment in moments)


def _mean_done(spans: Sequence[tuple[float, float]], moment: float) -> float:
    return statistics.mean(
        (1.0 if moment >= b else 0.0) if b <= a else min(1.0, max(0.0, (moment - a) / (b - a)))
        for a, b in spans
    )


def live_cycle(
    key: CycleKey,
    size: CycleSize,
    started_at: datetime,
    phase: str | None,
    children: Sequence[ChildTimes],
    now: datetime,
) -> LiveCycle | None:
    """A running cycle at ``now`` in ``phase`` (its recorded phase); None once it ended."""
    if phase in (None, "idle"):
        current = _DESIGNING
    elif phase in PHASES:
        current = PHASES.index(phase)
    else:
        return None  # completed, failed or cancelled: nothing is left
    elapsed = max(0.0, (now - started_at).total_seconds())
    marks = [started_at]
    if current > _DESIGNING:
        marks.append(_first_created(children) or now)
    if current > _TRAINING:
        marks.append(_last_end(children, OperationType.TRAINING) or now)
    if current > _BACKTESTING:
        marks.append(_last_end(children, OperationType.BACKTESTING) or now)
    ends = _monotone(marks, now)
    done = tuple((b - a).total_seconds() for a, b in zip(ends, ends[1:], strict=False))
    return LiveCycle(key, size, elapsed, current, done, _fraction(current, key, children))


def _fraction(current: int, key: CycleKey, children: Sequence[ChildTimes]) -> float | None:
    """How far the current phase's own work is: training, its trainings' mean progress; a
    classic cycle's backtesting, its backtest's. A walk-forward cycle's backtesting
    finishes backtests that began while it trained, so their share says nothing of the
    phase's time; designing and assessing report no progress."""
    if current == _TRAINING:
        kind = OperationType.TRAINING
    elif current == _BACKTESTING and key.folds == 0:
        kind = OperationType.BACKTESTING
    else:
        return None
    parts = [1.0 if c.ended else c.percentage / 100.0 for c in children if c.kind is kind]
    return statistics.mean(parts) if parts else 0.0


def _first_created(children: Sequence[ChildTimes]) -> datetime | None:
    return min((c.created_at for c in children), default=None)


def _last_end(children: Sequence[ChildTimes], kind: OperationType) -> datetime | None:
    """When the last child of ``kind`` ended; None while one is open (or none exists)."""
    ofkind = [c for c in children if c.kind is kind]
    if not ofkind or any(c.completed_at is None for c in ofkind):
        return None
    return max(c.completed_at for c in ofkind if c.completed_at is not None)


def _monotone(marks: Sequence[datetime | None], last: datetime) -> list[datetime]:
    """Phase boundaries in order: a missing one is where the one before it was, and none
    is before the one before it or after ``last`` (clocks of children may jitter)."""
    ends = [marks[0] or last]
    for mark in marks[1:]:
        ends.append(min(last, max(ends[-1], mark or ends[-1])))
    return ends


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
