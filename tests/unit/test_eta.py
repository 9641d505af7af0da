"""The ETA estimator (``ktrdr.operations.eta``) on hand-made histories, and the timeline
reader (``ktrdr.agents.cycle_timeline``) on hand-made cycle records."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from ktrdr.agents.cycle_timeline import (
    ChildTimes,
    cycle_key,
    cycle_series,
    cycle_size,
    live_cycle,
    past_cycle,
)
from ktrdr.contract.operations import OperationPublic
from ktrdr.operations.eta import (
    MIN_COMPARABLE,
    CycleKey,
    CycleSize,
    LiveCycle,
    PastCycle,
    _t_90,
    comparable,
    estimate,
)
from ktrdr.operations.summary import summarize
from ktrdr.records.models import (
    Operation,
    OperationMetadata,
    OperationProgress,
    OperationStatus,
    OperationType,
)

KEY = CycleKey(executor="thread", workers=2, folds=0, candidates=1, designer="builtin")
SIZE = CycleSize(bars=5000, epochs=100.0)
DURATIONS = (2.0, 60.0, 10.0, 3.0)  # designing, training, backtesting, assessing
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def past(durations: tuple[float, float, float, float] = DURATIONS, **changes: object) -> PastCycle:
    key = CycleKey(**{**vars(KEY), **{k: v for k, v in changes.items() if k in vars(KEY)}})
    size = CycleSize(**{**vars(SIZE), **{k: v for k, v in changes.items() if k in vars(SIZE)}})
    return PastCycle(key, size, durations)


def live_at(
    elapsed: float, durations: tuple[float, ...] = DURATIONS, **changes: object
) -> LiveCycle:
    """The live cycle ``elapsed`` seconds in, its phases lasting ``durations``, every
    phase's fraction as time within it says (linear)."""
    ends = [sum(durations[: i + 1]) for i in range(len(durations))]
    phase = next((i for i, end in enumerate(ends) if elapsed < end), len(durations) - 1)
    start = ends[phase] - durations[phase]
    fraction = min(1.0, (elapsed - start) / durations[phase])
    key = CycleKey(**{**vars(KEY), **{k: v for k, v in changes.items() if k in vars(KEY)}})
    size = CycleSize(**{**vars(SIZE), **{k: v for k, v in changes.items() if k in vars(SIZE)}})
    return LiveCycle(key, size, elapsed, phase, tuple(durations[:phase]), fraction)


# ---------------------------------------------------------------------------- the estimator


def test_no_estimate_from_fewer_than_three_comparable_cycles() -> None:
    others = [past(executor="process"), past(workers=4), past(folds=2), past(candidates=3)]
    history = [*others, past(), past()]
    assert estimate(history, live_at(0.0)) is None
    eta = estimate([*history, past()], live_at(0.0))
    assert eta is not None and eta.comparable == MIN_COMPARABLE


def test_a_cycle_like_its_history_is_predicted_exactly_all_along() -> None:
    history = [past() for _ in range(5)]
    total = sum(DURATIONS)
    for elapsed in (0.0, 1.0, 2.0, 30.0, 62.0, 70.0, 74.0, total):
        eta = estimate(history, live_at(elapsed))
        assert eta is not None
        assert eta.seconds == pytest.approx(total - elapsed, abs=1e-9), elapsed
        assert eta.low <= eta.seconds <= eta.high


def test_training_scales_with_bars_times_epochs_and_backtesting_with_bars() -> None:
    history = [past(epochs=50.0, bars=2500) for _ in range(3)]
    eta = estimate(history, live_at(0.0, epochs=100.0, bars=5000))
    assert eta is not None
    # designing 2 + training 60 × 2 × 2 + backtesting 10 × 2 + assessing 3
    assert eta.seconds == pytest.approx(2 + 240 + 20 + 3)


def test_the_same_size_is_preferred_once_three_exist() -> None:
    bigger = [past((2.0, 200.0, 10.0, 3.0), epochs=200.0) for _ in range(4)]
    alike = [past() for _ in range(MIN_COMPARABLE)]
    refs = comparable([*bigger, *alike], KEY, SIZE)
    assert refs == alike
    # With two alike the bigger ones count too, scaled down (200 s at 200 epochs: 100 s).
    eta = estimate([*bigger, *alike[:2]], live_at(0.0))
    assert eta is not None and eta.seconds == pytest.approx(2 + 100 + 10 + 3)


def test_a_slow_cycle_is_soon_judged_on_its_own_pace() -> None:
    history = [past() for _ in range(3)] + [past((2.0, 90.0, 10.0, 3.0)) for _ in range(3)]
    slow = tuple(d * 2 for d in DURATIONS)  # this cycle runs at half its peers' pace
    truth = sum(slow)
    at_start = estimate(history, live_at(0.0, slow))
    half_way = estimate(history, live_at(truth / 2, slow))
    assert at_start is not None and half_way is not None
    start_error = abs(at_start.seconds - truth)
    half_error = abs(truth / 2 + half_way.seconds - truth)
    assert half_error < start_error / 4, (start_error, half_error)


def test_the_interval_holds_the_estimate_and_widens_with_the_spread() -> None:
    tight = [past((2.0, 60.0 + i, 10.0, 3.0)) for i in range(5)]
    loose = [past((2.0, 60.0 * f, 10.0, 3.0)) for f in (0.5, 0.8, 1.0, 1.3, 2.0)]
    a, b = estimate(tight, live_at(0.0)), estimate(loose, live_at(0.0))
    assert a is not None and b is not None
    assert a.low <= a.seconds <= a.high and b.low <= b.seconds <= b.high
    assert (b.high / b.low) > (a.high / a.low) > 1.0


def test_overdue_past_the_ninetieth_percentile_of_comparable_cycles() -> None:
    totals = [50.0, 60.0, 70.0, 80.0, 100.0]
    history = [past((0.0, t, 0.0, 0.0)) for t in totals]
    # The 90th percentile predicted for one more such cycle: the log durations' median
    # plus t(0.9, 4 df) × sqrt(1 + 1/5) × 1.4826 × their median absolute deviation.
    logs = [math.log(t) for t in totals]
    mad = statistics.median(abs(x - statistics.median(logs)) for x in logs)
    p90 = math.exp(statistics.median(logs) + 1.533 * math.sqrt(1.2) * 1.4826 * mad)
    assert max(totals) < p90 < 2 * max(totals)  # above the sample's own, as it should be
    running = (0.0, 500.0, 1.0, 1.0)
    before = estimate(history, live_at(p90 * 0.99, running))
    after = estimate(history, live_at(p90 * 1.01, running))
    assert before is not None and not before.overdue
    assert after is not None and after.overdue
    assert after.seconds >= 0.0


def test_student_t_quantiles() -> None:
    # Exact 90 % quantiles of Student's t (tables): the expansion is within 0.5 %.
    for df, exact in ((2, 1.886), (3, 1.638), (5, 1.476), (10, 1.372), (30, 1.310)):
        assert _t_90(df) == pytest.approx(exact, rel=0.005), df


def test_the_wire_rounds_without_leaving_the_interval() -> None:
    op = Operation(operation_id="op_x", operation_type=OperationType.AGENT_RESEARCH)
    eta = estimate([past(), past(), past()], live_at(12.345))
    assert eta is not None
    public = OperationPublic.from_domain(op).with_eta(eta)
    assert public.eta_seconds is not None and public.eta_low is not None
    assert public.eta_high is not None and public.overdue is False
    assert public.eta_low <= public.eta_seconds <= public.eta_high
    assert OperationPublic.from_domain(op).with_eta(None).eta_seconds is None


# ---------------------------------------------------------------------------- the timeline


def child(
    kind: OperationType, created: float, ended: float | None, pct: float = 0.0, epochs: int = 10
) -> ChildTimes:
    status = OperationStatus.COMPLETED if ended is not None else OperationStatus.RUNNING
    return ChildTimes(
        kind,
        status,
        T0 + timedelta(seconds=created),
        None if ended is None else T0 + timedelta(seconds=ended),
        100.0 if ended is not None else pct,
        epochs if kind is OperationType.TRAINING else None,
        T0 + timedelta(seconds=created),
    )


TRAINING, BACKTEST = OperationType.TRAINING, OperationType.BACKTESTING


def test_a_walk_forward_cycles_phases_are_read_from_its_children() -> None:
    children = [
        child(TRAINING, 1.0, 30.0),
        child(TRAINING, 1.0, 45.0),
        child(TRAINING, 1.0, 50.0),
        child(BACKTEST, 30.5, 33.0),
        child(BACKTEST, 45.5, 60.0),
        child(BACKTEST, 61.0, 64.0),
    ]
    key = KEY
    got = past_cycle(key, SIZE, T0, T0 + timedelta(seconds=66.0), children)
    assert got is not None
    # designing until the first child, training until the last training, backtesting
    # until the last backtest, assessing until the end.
    assert got.durations == pytest.approx((1.0, 49.0, 14.0, 2.0))


def test_a_cycle_that_cannot_be_timed_is_left_out() -> None:
    assert past_cycle(KEY, SIZE, T0, T0 + timedelta(seconds=5), []) is None
    still_open = [child(TRAINING, 1.0, None, 40.0)]
    assert past_cycle(KEY, SIZE, T0, T0 + timedelta(seconds=5), still_open) is None


def test_a_running_cycle_in_training_says_how_far_its_trainings_are() -> None:
    children = [
        child(TRAINING, 2.0, 20.0),
        child(TRAINING, 2.0, None, 50.0),
        child(TRAINING, 2.0, None, 0.0),
        child(BACKTEST, 21.0, 25.0),  # a fold's backtest: not the training phase's work
    ]
    now = T0 + timedelta(seconds=30.0)
    live = live_cycle(KEY, SIZE, T0, "training", children, now)
    assert live is not None
    assert (live.phase, live.elapsed, live.done) == (1, 30.0, (2.0,))
    assert live.fraction == pytest.approx((1.0 + 0.5 + 0.0) / 3)


def test_a_walk_forward_cycles_backtesting_has_no_fraction_a_classic_ones_has() -> None:
    children = [child(TRAINING, 1.0, 10.0), child(BACKTEST, 10.5, None, 40.0)]
    now = T0 + timedelta(seconds=12.0)
    classic = live_cycle(KEY, SIZE, T0, "backtesting", children, now)
    walk_forward = CycleKey(**{**vars(KEY), "folds": 2})
    folds = live_cycle(walk_forward, SIZE, T0, "backtesting", children, now)
    assert classic is not None and folds is not None
    assert classic.done == pytest.approx((1.0, 9.0)) and classic.fraction == pytest.approx(0.4)
    assert folds.fraction is None
    assert live_cycle(KEY, SIZE, T0, "completed", children, now) is None
    idle = live_cycle(KEY, SIZE, T0, "idle", [], T0)
    assert idle is not None and (idle.phase, idle.fraction, idle.elapsed) == (0, None, 0.0)


def test_the_key_and_size_come_from_the_cycles_parameters() -> None:
    params: dict[str, object] = {
        "folds": 2,
        "candidates": 3,
        "patience": 10,
        "designer": "builtin",
        "epochs": None,
    }
    key = cycle_key(params, "process", 4)
    assert key == CycleKey("process", 4, 2, 3, 10, "builtin", epochs_given=False)
    recorded = cycle_key({**params, "executor": "dask", "workers": 8}, "process", 4)
    assert (recorded.executor, recorded.workers) == ("dask", 8)
    designs = [child(TRAINING, 1.0, None, epochs=e) for e in (40, 60, 80)]
    assert cycle_size(params, designs, 5000) == CycleSize(5000, 60.0)
    assert cycle_size(params, [], 5000) == CycleSize(5000, None)
    assert cycle_size({**params, "epochs": 25}, designs, None) == CycleSize(None, 25.0)
    assert cycle_series({"symbol": "nasdaq", "timeframe": "1d"}) == ("NASDAQ", "1d")
    assert cycle_series({}) == ("SP500", "1d")
    assert cycle_series({"designer": "given", "strategy": "mine"}) is None


def test_a_recorded_cycle_read_back_matches_its_records() -> None:
    """ChildTimes from a real Operation and from its listing row agree."""
    op = Operation(
        operation_id="op_t",
        operation_type=OperationType.TRAINING,
        status=OperationStatus.COMPLETED,
        created_at=T0,
        completed_at=T0 + timedelta(seconds=3),
        progress=OperationProgress(percentage=100.0),
        metadata=OperationMetadata(parameters={"epochs": 12}),
    )
    whole, row = ChildTimes.of(op), ChildTimes.of_summary(summarize(op), epochs=12)
    assert whole == row and whole.epochs == 12 and whole.ended
