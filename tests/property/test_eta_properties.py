"""The ETA on recorded timelines drawn at random: a history of completed cycles (each a
classic cycle's records: a training child, then a backtest child, with the times they were
created and ended) and a running cycle read at any moment through the same timeline reader
the backend uses (``ktrdr.agents.cycle_timeline``), its training's percentage moving with
time as its epochs do.

Whatever the history and the moment: no estimate from fewer than 3 comparable cycles;
otherwise the estimate is never below zero and its 80 % interval holds it. As the work
ends the estimate meets the truth: told how far each phase is, it is within ``(1 − f)`` of
the last phase's scale at a share ``f`` of it, and exact at the end; a cycle that runs
uniformly k times slower than its identical peers is never further off than ``|k − 1|``
times what its peers had left.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktrdr.agents.cycle_timeline import ChildTimes, live_cycle, past_cycle
from ktrdr.operations.eta import (
    MIN_COMPARABLE,
    CycleKey,
    CycleSize,
    LiveCycle,
    PastCycle,
    estimate,
)
from ktrdr.records.models import OperationStatus, OperationType

KEY = CycleKey(executor="thread", workers=2, folds=0, candidates=1, designer="builtin")
OTHER = CycleKey(executor="process", workers=2, folds=0, candidates=1, designer="builtin")
SIZE = CycleSize(bars=5000, epochs=50.0)
PHASE_NAMES = ("designing", "training", "backtesting", "assessing")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
# Records keep times to the microsecond: four phase ends, each rounded, then float rounding
# of a moment and of a fraction read back.
RECORDED = 1e-5

seconds = st.floats(min_value=0.01, max_value=5000.0, allow_nan=False)
phase_times = st.tuples(seconds, seconds, seconds, seconds)


def _at(offset: float) -> datetime:
    return T0 + timedelta(seconds=offset)


def records_at(durations: tuple[float, ...], t: float) -> tuple[str, list[ChildTimes]]:
    """A classic cycle whose phases last ``durations``, as its records stood ``t`` seconds
    in: its phase, and its children (a training whose percentage follows its time)."""
    d, tr, bt, _ = durations
    ends = (d, d + tr, d + tr + bt, sum(durations))
    phase = next((i for i, end in enumerate(ends) if t < end), 3)
    children = []
    if t >= d:
        done = t >= ends[1]
        pct = 100.0 if done else 100.0 * (t - d) / tr
        children.append(_child(OperationType.TRAINING, d, ends[1] if done else None, pct))
    if t >= ends[1]:
        done = t >= ends[2]
        pct = 100.0 if done else 100.0 * (t - ends[1]) / bt
        children.append(_child(OperationType.BACKTESTING, ends[1], ends[2] if done else None, pct))
    return PHASE_NAMES[phase], children


def _child(kind: OperationType, created: float, ended: float | None, pct: float) -> ChildTimes:
    status = OperationStatus.COMPLETED if ended is not None else OperationStatus.RUNNING
    ends = None if ended is None else _at(ended)
    return ChildTimes(kind, status, _at(created), ends, pct, 50, _at(created))


def recorded_past(durations: tuple[float, ...], key: CycleKey = KEY) -> PastCycle:
    _, children = records_at(durations, sum(durations))
    past = past_cycle(key, SIZE, T0, _at(sum(durations)), children)
    assert past is not None
    return past


def live(durations: tuple[float, ...], t: float) -> LiveCycle:
    phase, children = records_at(durations, t)
    found = live_cycle(KEY, SIZE, T0, phase, children, _at(t))
    assert found is not None
    return found


def told(durations: tuple[float, ...], t: float) -> LiveCycle:
    """The running cycle as read, told also how far its designing and assessing are (the
    records say it of training and backtesting only; time alone stands in for the rest)."""
    read = live(durations, t)
    start = sum(durations[: read.phase])
    fraction = min(1.0, max(0.0, (t - start) / durations[read.phase]))
    return LiveCycle(read.key, read.size, read.elapsed, read.phase, read.done, fraction)


@given(
    st.lists(phase_times, max_size=8),
    st.lists(phase_times, max_size=4),
    phase_times,
    st.floats(min_value=0.0, max_value=1.2),
)
def test_an_estimate_needs_three_and_is_never_negative_and_inside_its_interval(
    alike: list[tuple[float, ...]],
    other: list[tuple[float, ...]],
    running: tuple[float, ...],
    share: float,
) -> None:
    history = [recorded_past(d) for d in alike] + [recorded_past(d, OTHER) for d in other]
    eta = estimate(history, live(running, share * sum(running)))
    if len(alike) < MIN_COMPARABLE:
        assert eta is None
        return
    assert eta is not None and eta.comparable == min(len(alike), 20)
    assert 0.0 <= eta.low <= eta.seconds <= eta.high
    assert eta.high < float("inf")


@given(
    st.lists(phase_times, min_size=3, max_size=8),
    phase_times,
    st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=5),
)
def test_the_estimate_meets_the_truth_as_the_work_ends(
    alike: list[tuple[float, ...]], running: tuple[float, ...], shares: list[float]
) -> None:
    """In its last phase (told how far it is), the error is at most (1 − f) times the
    larger of the phase's true length and the history's, at the pace seen so far."""
    history = [recorded_past(d) for d in alike]
    total, last = sum(running), running[3]
    for f in [*shares, 1.0]:
        t = total - last + f * last
        eta = estimate(history, told(running, t))
        assert eta is not None
        truth = total - t
        pace = max(1.0, max(t / (sum(p.durations) - (1 - f) * p.durations[3]) for p in history))
        scale = max(last, pace * max(p.durations[3] for p in history))
        slack = 1e-9 * total + RECORDED
        assert abs(eta.seconds - truth) <= (1.0 - f) * scale + slack
        if f == 1.0:
            assert eta.seconds == pytest.approx(0.0, abs=slack)  # at the end: nothing left


@given(
    phase_times,
    st.floats(min_value=0.2, max_value=5.0),
    st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=6),
)
def test_a_uniformly_slower_or_faster_cycle_converges(
    peers: tuple[float, ...], k: float, shares: list[float]
) -> None:
    history = [recorded_past(peers) for _ in range(MIN_COMPARABLE)]
    running = tuple(d * k for d in peers)
    for share in shares:
        t = share * sum(running)
        eta = estimate(history, told(running, t))
        assert eta is not None
        truth = sum(running) - t
        peers_left = truth / k
        slack = 1e-9 * sum(running) + RECORDED * max(1.0, k)
        assert abs(eta.seconds - truth) <= abs(k - 1.0) * peers_left + slack
