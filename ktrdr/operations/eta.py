"""How long a research cycle has left, learned from the comparable cycles that completed
before it: a pure estimator (no I/O, no clock).

Each past cycle is four phase durations (designing, training, backtesting, assessing) and
the size of its work. Cycles are comparable when they ran on the same executor with the
same workers, the same shape (folds, candidates, patience), the same designer and with
epochs chosen the same way; bars and epochs may differ, and a past cycle's training is
scaled by bars × epochs and its backtesting by bars to the size of the cycle estimated.
When at least ``MIN_COMPARABLE`` past cycles have exactly the same size, only those count.

Every reference cycle (the newest ``REFERENCE_RUNS`` comparable ones) gives its own
remaining time: the work it had left at the point the live cycle has reached (where it
had done as much work, see ``Curve``), at a pace blended from its own and the live one
(time spent / the reference's time for the same work).

The pace model, in log scale: a cycle's pace is its base pace (how fast this design runs
on this machine today) plus a wander of variance ``PACE_WANDER² / s`` over any share ``s``
of its work (noise averages out over more work). The comparable cycles' robust spread
``σ`` (1.4826 × the median absolute deviation of their log durations) is both, so the
base paces spread by ``σ0² = σ² − PACE_WANDER²``. After a share ``s`` of the work, the live
pace weighs ``w = σ0² s / (PACE_WANDER² + σ0² s)`` (the precisions' ratio): a cycle whose
own pace is far from its peers' (another design, a busier machine) is soon judged on its
own. The estimate is the median of the references' remaining times; what is still unknown
of the time left is the base pace's posterior variance ``1 / (1/σ0² + s/PACE_WANDER²)``
plus the wander to come, ``PACE_WANDER² / (1 − s)``. The 80 % interval is that spread
(at least ``MIN_SPREAD``) widened for a small sample as a prediction interval is
(Student's t with n − 1 degrees of freedom, × sqrt(1 + 1/n)), around the time left: it
closes as the work ends. "Overdue" is separate: the cycle has run past the 90th
percentile of the comparable cycles' (scaled) durations.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# The phases a cycle's time is split into, in order (``ktrdr.agents.phases`` values).
PHASES: tuple[str, ...] = ("designing", "training", "backtesting", "assessing")
MIN_COMPARABLE = 3  # no estimate from fewer comparable completed cycles
REFERENCE_RUNS = 20  # the newest comparable cycles: older ones ran on yesterday's machine
# The least spread (log scale) the base paces and an interval get: a few identical past
# runs do not make the future certain (a shared machine wobbles by ~10 % between them).
MIN_SPREAD = 0.1
# How far (log scale, one sigma) a cycle's pace over the whole of its work wanders from
# its base pace: other work on a shared machine, epochs that differ. Chosen on the first
# history benchmarks/eta_accuracy.py built and checked on a second one (see its note).
PACE_WANDER = 0.1
# The most a remaining time's spread grows near the end (a few seconds left, any pace).
MAX_SPREAD = 1.0
_MAD_TO_SIGMA = 1.4826  # the MAD of a normal sample times this estimates its sigma
_Z_90 = 1.2815515655446004  # the standard normal's 90 % quantile


@dataclass(frozen=True)
class CycleKey:
    """What must be equal for two cycles to be compared at all."""

    executor: str
    workers: int
    folds: int
    candidates: int
    patience: int | None = None
    designer: str | None = None
    epochs_given: bool = True  # False: the designer chose them (unknown until designed)


@dataclass(frozen=True)
class CycleSize:
    """How much work: the series' bars and the mean epochs of the cycle's trainings
    (None while unknown: a scale of 1 is used for it)."""

    bars: int | None = None
    epochs: float | None = None


# How a phase's work went in time: (share of its work done, share of its time gone) knots,
# both non-decreasing, from the phase's start to its end. Empty: evenly (a straight line).
# A walk-forward cycle's trainings run a few at a time and the last alone, so its training
# phase does most of its work early: a live cycle is compared with a reference at the
# moment the reference had done as much, not at the same share of its time.
Curve = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PastCycle:
    """A completed cycle: its key, its size, its phases' durations (seconds, PHASES) and
    how each phase's work went in time (``curves``, by phase; missing or empty: evenly)."""

    key: CycleKey
    size: CycleSize
    durations: tuple[float, float, float, float]
    curves: tuple[Curve, ...] = ()

    @property
    def total(self) -> float:
        return sum(self.durations)


@dataclass(frozen=True)
class LiveCycle:
    """A running cycle as it stands: ``phase`` indexes PHASES; ``done`` the durations of
    the phases before it; ``fraction`` how much of the current phase's work is done (0..1,
    e.g. its trainings' mean percentage), None when nothing says (time is then the guide)."""

    key: CycleKey
    size: CycleSize
    elapsed: float
    phase: int
    done: tuple[float, ...] = ()
    fraction: float | None = None


@dataclass(frozen=True)
class Eta:
    """Seconds left (``seconds``, within ``low``..``high`` 80 % of the time), whether the
    cycle is overdue, and how many comparable cycles the figure comes from."""

    seconds: float
    low: float
    high: float
    overdue: bool
    comparable: int


def comparable(history: Sequence[PastCycle], key: CycleKey, size: CycleSize) -> list[PastCycle]:
    """The reference cycles for ``key`` and ``size``, oldest first (``history`` is in the
    order the cycles ended): the same size when enough are, else every comparable one."""
    same = [past for past in history if past.key == key]
    exact = [past for past in same if past.size == size]
    pool = exact if len(exact) >= MIN_COMPARABLE else same
    return pool[-REFERENCE_RUNS:]


def estimate(history: Sequence[PastCycle], live: LiveCycle) -> Eta | None:
    """The ETA of ``live`` from ``history``; None with fewer than MIN_COMPARABLE
    comparable cycles."""
    refs = comparable(history, live.key, live.size)
    if len(refs) < MIN_COMPARABLE:
        return None
    scaled = [_scaled(ref, live.size) for ref in refs]
    totals = [sum(durations) for durations in scaled]
    spread = _spread(totals)
    widen = _t_90(len(refs) - 1) * math.sqrt(1 + 1 / len(refs))  # a prediction, not a mean
    base = max(spread**2 - PACE_WANDER**2, MIN_SPREAD**2)
    left = [
        _remaining(durations, _curve(ref, live.phase), live, base)
        for ref, durations in zip(refs, scaled, strict=True)
    ]
    point = statistics.median(seconds for seconds, _ in left)
    unknown = _left_spread(statistics.median(share for _, share in left), base)
    factor = math.exp(widen * unknown)
    return Eta(
        seconds=point,
        low=point / factor,
        high=point * factor,
        overdue=live.elapsed > _ninetieth(totals, widen * spread),
        comparable=len(refs),
    )


def _scaled(ref: PastCycle, size: CycleSize) -> tuple[float, ...]:
    """The reference's phase durations at ``size``: training scales with bars × epochs,
    backtesting with bars; designing and assessing do not grow with either."""
    bars = _ratio(size.bars, ref.size.bars)
    epochs = _ratio(size.epochs, ref.size.epochs)
    designing, training, backtesting, assessing = ref.durations
    return (designing, training * bars * epochs, backtesting * bars, assessing)


def _ratio(new: float | None, old: float | None) -> float:
    if new is None or old is None or new <= 0 or old <= 0:
        return 1.0
    return new / old


def _curve(ref: PastCycle, phase: int) -> Curve:
    return ref.curves[phase] if 0 <= phase < len(ref.curves) else ()


def time_share(curve: Curve, work: float) -> float:
    """The share of a phase's time by which ``work`` (a share) of its work was first done."""
    if not curve:
        return work
    before_work, before_time = 0.0, 0.0
    for done, gone in curve:
        if done >= work:
            if done <= before_work:
                return before_time
            return before_time + (gone - before_time) * (work - before_work) / (done - before_work)
        before_work, before_time = done, gone
    return 1.0


def _remaining(
    durations: Sequence[float], curve: Curve, live: LiveCycle, base: float
) -> tuple[float, float]:
    """What one reference says is left (seconds): its work after the live cycle's point,
    at a pace blended between its own and the live cycle's; and the share of its work
    done at that point."""
    current = min(max(live.phase, 0), len(durations) - 1)
    in_phase = max(0.0, live.elapsed - sum(live.done[:current]))
    length = durations[current]
    if live.fraction is not None:  # where the reference was when it had done as much
        fraction = time_share(curve, min(1.0, max(0.0, live.fraction)))
    else:  # on the reference's pace, as far as its phase went
        fraction = min(1.0, in_phase / length) if length > 0 else 1.0
    done = sum(durations[:current]) + fraction * length
    total = sum(durations)
    left = (1.0 - fraction) * length + sum(durations[current + 1 :])
    if total <= 0:
        return left, 1.0
    share = min(1.0, done / total)
    if done <= 0 or live.elapsed <= 0:
        return left, share
    pace = (live.elapsed / done) ** _live_weight(share, base)
    return max(0.0, pace * left), share


def _live_weight(share: float, base: float) -> float:
    """The live pace's weight after a ``share`` of the work: the precision of the pace seen
    so far over the sum of its and the history's (``base``: the base paces' variance)."""
    return base * share / (PACE_WANDER**2 + base * share)


def _left_spread(share: float, base: float) -> float:
    """The spread (log scale) of the time left after a ``share`` of the work: what is
    still unknown of the base pace, and the wander of the work to come."""
    if share >= 1.0:
        return MIN_SPREAD
    posterior = 1.0 / (1.0 / base + share / PACE_WANDER**2)
    to_come = PACE_WANDER**2 / (1.0 - share)
    return min(MAX_SPREAD, max(MIN_SPREAD, math.sqrt(posterior + to_come)))


def _ninetieth(totals: Sequence[float], margin: float) -> float:
    """The comparable cycles' 90th percentile as a prediction: their log durations' median
    plus ``margin`` (t × sqrt(1 + 1/n) × their spread). The sample's own 90th percentile
    is too low for few cycles: a fourth outlasts three normal ones' 29 % of the time, an
    eleventh ten's 17 %."""
    logs = [math.log(t) for t in totals if t > 0]
    return math.exp(statistics.median(logs) + margin) if logs else math.inf


def _spread(totals: Sequence[float]) -> float:
    """The robust relative spread of the comparable cycles' durations (log scale)."""
    logs = [math.log(t) for t in totals if t > 0]
    if len(logs) < 2:
        return MIN_SPREAD
    centre = statistics.median(logs)
    mad = statistics.median(abs(x - centre) for x in logs)
    return max(MIN_SPREAD, _MAD_TO_SIGMA * mad)


def _t_90(df: int) -> float:
    """Student's t 90 % quantile with ``df`` degrees of freedom (Cornish-Fisher expansion
    about the normal; within 0.5 % of the exact value from 2 degrees of freedom on)."""
    z = _Z_90
    v = float(max(df, 2))  # an estimate has 3 comparable cycles at least
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )
