"""Walk-forward windows: exact plans for small series, the rules as properties, dates for
``DataSpec`` (daily and hourly), and plans over the bundled SP500 series."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ktrdr.data.bars import TimeArray
from ktrdr.data.market import MarketData
from ktrdr.errors import StrategyValidationError
from ktrdr.research.walkforward import (
    FoldSizes,
    FoldWindow,
    WalkForwardPlan,
    WalkForwardSpec,
    Window,
    describe,
    fold_dates,
    minimum_bars,
    plan_walk_forward,
    windows_as_dates,
)
from ktrdr.strategies.models import DataSpec, LabelSpec


def spans(plan: WalkForwardPlan) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    return [
        ((f.train.start, f.train.stop), (f.test.start, f.test.stop))
        for f in (*plan.folds, plan.final)
    ]


def hourly(n_bars: int, per_day: int) -> TimeArray:
    """``per_day`` hourly bars a day from 2022-03-01 09:00, every calendar day."""
    day = np.arange(n_bars) // per_day
    hour = np.arange(n_bars) % per_day
    start = np.datetime64("2022-03-01T09:00:00", "s")
    return start + day * np.timedelta64(1, "D") + hour * np.timedelta64(1, "h")


# --- exact plans -----------------------------------------------------------------------------


def test_anchored_folds_over_1000_bars() -> None:
    # holdout round(1000 x 0.15) = 150 bars; the tests end 5 bars (purge) before it, at 845.
    # The first train window and 3 tests share 845 - 5 = 840 bars: 4 equal chunks of 210 would
    # leave the first train window short of 250, so each test gets (840 - 250) // 3 = 196.
    plan = plan_walk_forward(1000, WalkForwardSpec(), FoldSizes(purge_bars=5))
    assert spans(plan) == [
        ((0, 252), (257, 453)),
        ((0, 448), (453, 649)),
        ((0, 644), (649, 845)),
        ((0, 845), (850, 1000)),
    ]
    assert plan.holdout == Window(850, 1000)
    assert [fold.index for fold in plan.folds] == [0, 1, 2]
    assert plan.final == FoldWindow(3, Window(0, 845), Window(850, 1000))


def test_rolling_folds_slide_a_train_window_of_fixed_length() -> None:
    plan = plan_walk_forward(1000, WalkForwardSpec(mode="rolling"), FoldSizes(purge_bars=5))
    assert spans(plan) == [
        ((0, 252), (257, 453)),
        ((196, 448), (453, 649)),
        ((392, 644), (649, 845)),
        ((593, 845), (850, 1000)),
    ]


def test_equal_chunks_after_the_warmup() -> None:
    # 500 bars, holdout 100 ([400, 500)), purge 2, warmup 10: 400 - 2 - 10 - 2 = 386 bars for
    # the first train window and 4 tests; 5 chunks of 77 (the remainder, 1, goes to training).
    spec = WalkForwardSpec(folds=4, holdout_fraction=0.2)
    plan = plan_walk_forward(
        500, spec, FoldSizes(warmup_bars=10, purge_bars=2, min_train_bars=50, min_test_bars=20)
    )
    assert spans(plan) == [
        ((10, 88), (90, 167)),
        ((10, 165), (167, 244)),
        ((10, 242), (244, 321)),
        ((10, 319), (321, 398)),
        ((10, 398), (400, 500)),
    ]


def test_a_test_window_may_outgrow_the_first_train_window_to_reach_min_test_bars() -> None:
    # 300 bars before the holdout, 3 folds: chunks of 75, but each test needs 90.
    spec = WalkForwardSpec(holdout_fraction=0.25)
    plan = plan_walk_forward(400, spec, FoldSizes(purge_bars=0, min_train_bars=5, min_test_bars=90))
    assert spans(plan) == [
        ((0, 30), (30, 120)),
        ((0, 120), (120, 210)),
        ((0, 210), (210, 300)),
        ((0, 300), (300, 400)),
    ]


def test_the_purge_defaults_to_the_label_horizon() -> None:
    assert WalkForwardSpec().purge_for(7) == 7
    assert WalkForwardSpec(purge_bars=0).purge_for(7) == 0
    assert WalkForwardSpec(purge_bars=12).purge_for(7) == 12


def test_describe_names_folds_purge_and_holdout() -> None:
    plan = plan_walk_forward(1000, WalkForwardSpec(), FoldSizes(purge_bars=5))
    assert describe(plan) == (
        "3 anchored folds of 196 test bars, purge 5 bars, holdout bars 850…999 (150 bars)"
    )
    one = plan_walk_forward(
        400, WalkForwardSpec(folds=1), FoldSizes(purge_bars=1, min_train_bars=100)
    )
    assert describe(one).startswith("1 anchored fold of ")
    assert ", purge 1 bar, " in describe(one)


# --- refusals --------------------------------------------------------------------------------


def test_too_few_bars_are_refused_naming_the_numbers() -> None:
    # 250 train + 5 purge + 5 x 60 test + 5 purge = 560 bars before the holdout; at 659 bars
    # the holdout is round(98.85) = 99 and 659 - 99 = 560; at 658, 658 - 99 = 559.
    spec = WalkForwardSpec(folds=5)
    assert minimum_bars(spec, FoldSizes(purge_bars=5)) == 659
    plan_walk_forward(659, spec, FoldSizes(purge_bars=5))
    with pytest.raises(StrategyValidationError) as caught:
        plan_walk_forward(658, spec, FoldSizes(purge_bars=5))
    assert caught.value.message == (
        "5 anchored folds need at least 659 bars (250 to train + 5 purge + 5 x 60 test + "
        "5 purge + a 15% holdout of at least 60); the series has 658"
    )
    assert caught.value.details["needed"] == 659
    assert caught.value.details["bars"] == 658


def test_a_holdout_shorter_than_a_test_window_is_refused() -> None:
    # 1,000 bars would hold the folds, but a 5% holdout of them is 50 bars (< 60).
    spec = WalkForwardSpec(folds=1, holdout_fraction=0.05)
    assert minimum_bars(spec, FoldSizes(purge_bars=0)) == 1190  # round(1190 x 0.05) = 59.5 -> 60
    with pytest.raises(StrategyValidationError, match="a 5% holdout of at least 60"):
        plan_walk_forward(1000, spec, FoldSizes(purge_bars=0))


@pytest.mark.parametrize(
    ("fields", "field", "problem"),
    [
        ({"folds": 0}, "folds", "greater than or equal to 1"),
        ({"folds": 21}, "folds", "less than or equal to 20"),
        ({"holdout_fraction": 0.6}, "holdout_fraction", "less than 0.5"),
        ({"holdout_fraction": 0}, "holdout_fraction", "greater than 0"),
        ({"purge_bars": -1}, "purge_bars", "greater than or equal to 0"),
        ({"purge_bars": 501}, "purge_bars", "less than or equal to 500"),
        ({"mode": "expanding"}, "mode", "'rolling' or 'anchored'"),
        ({"test_bars": 5}, "test_bars", "Extra inputs are not permitted"),
    ],
)
def test_invalid_specs_are_refused(fields: dict[str, object], field: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WalkForwardSpec.model_validate(fields)
    (error,) = caught.value.errors()
    assert error["loc"] == (field,)
    assert problem in error["msg"]


def test_negative_sizes_are_a_callers_bug() -> None:
    with pytest.raises(ValueError, match=r"purge_bars \(-1\)"):
        plan_walk_forward(1000, WalkForwardSpec(), FoldSizes(purge_bars=-1))
    with pytest.raises(ValueError, match=r"min_test_bars \(0\)"):
        plan_walk_forward(1000, WalkForwardSpec(), FoldSizes(purge_bars=1, min_test_bars=0))


# --- the rules, for any spec -----------------------------------------------------------------

specs = st.builds(
    WalkForwardSpec,
    folds=st.integers(1, 20),
    mode=st.sampled_from(["rolling", "anchored"]),
    holdout_fraction=st.floats(0.001, 0.499),
)


@given(
    spec=specs,
    purge=st.integers(0, 500),
    warmup=st.integers(0, 300),
    min_train=st.integers(1, 400),
    min_test=st.integers(1, 120),
    extra=st.integers(0, 5_000),
)
def test_every_plan_keeps_the_rules(
    spec: WalkForwardSpec, purge: int, warmup: int, min_train: int, min_test: int, extra: int
) -> None:
    sizes = {
        "warmup_bars": warmup,
        "purge_bars": purge,
        "min_train_bars": min_train,
        "min_test_bars": min_test,
    }
    needed = minimum_bars(spec, FoldSizes(**sizes))
    n_bars = needed + extra
    plan = plan_walk_forward(n_bars, spec, FoldSizes(**sizes))
    if needed > 1:  # the minimum is sharp: one bar fewer does not fit
        with pytest.raises(StrategyValidationError, match=f"need at least {needed:,} bars"):
            plan_walk_forward(needed - 1, spec, FoldSizes(**sizes))

    tests = [fold.test for fold in plan.folds]
    assert [fold.index for fold in plan.folds] == list(range(spec.folds))
    assert len({test.bars for test in tests}) == 1 and tests[0].bars >= min_test
    # The tests tile the stretch from the first purge gap to the holdout's, in order.
    assert tests[0].start == warmup + plan.folds[0].train.bars + purge
    assert all(a.stop == b.start for a, b in zip(tests, tests[1:], strict=False))
    assert tests[-1].stop + purge == plan.holdout.start
    assert plan.holdout == Window(n_bars - round(n_bars * spec.holdout_fraction), n_bars)
    assert plan.holdout.bars >= min_test
    # The first train window is at least one test window long unless min_test_bars forbids it.
    assert plan.folds[0].train.bars >= tests[0].bars or tests[0].bars == min_test

    for fold in (*plan.folds, plan.final):
        assert fold.train.start >= warmup and fold.train.bars >= min_train
        # Neither the train window nor its purge gap reaches the test window.
        assert fold.train.stop + purge == fold.test.start
    trains = [fold.train for fold in (*plan.folds, plan.final)]
    if spec.mode == "anchored":
        assert {train.start for train in trains} == {warmup}
    else:
        assert {train.bars for train in trains} == {trains[0].bars}


@given(
    spec=specs,
    purge=st.integers(0, 50),
    min_train=st.integers(1, 300),
    min_test=st.integers(1, 100),
    short_by=st.integers(1, 2_000),
)
def test_too_few_bars_always_raise(
    spec: WalkForwardSpec, purge: int, min_train: int, min_test: int, short_by: int
) -> None:
    sizes = {"purge_bars": purge, "min_train_bars": min_train, "min_test_bars": min_test}
    n_bars = max(0, minimum_bars(spec, FoldSizes(**sizes)) - short_by)
    with pytest.raises(StrategyValidationError, match=f"the series has {n_bars:,}$"):
        plan_walk_forward(n_bars, spec, FoldSizes(**sizes))


# --- dates -----------------------------------------------------------------------------------


def days_selected(timestamps: TimeArray, first: date, last: date) -> Window:
    """The bars a ``DataSpec`` range [first, last] selects (whole days)."""
    days = timestamps.astype("datetime64[D]")
    lo = int(np.searchsorted(days, np.datetime64(first, "D"), "left"))
    return Window(lo, int(np.searchsorted(days, np.datetime64(last, "D"), "right")))


def test_hourly_windows_keep_their_whole_days() -> None:
    # 10 bars a day from 2022-03-01. holdout [75, 100), purge 3: tests share 75 - 6 = 69 bars
    # with the first train window, test [38, 72), train [0, 35). Partial days are dropped:
    # train [0, 30) (days 0-2), test [40, 70) (days 4-6), holdout [80, 100) (days 8-9).
    stamps = hourly(100, per_day=10)
    spec = WalkForwardSpec(folds=1, holdout_fraction=0.25)
    plan = plan_walk_forward(
        100, spec, FoldSizes(purge_bars=3, min_train_bars=20, min_test_bars=10)
    )
    assert spans(plan) == [((0, 35), (38, 72)), ((0, 72), (75, 100))]
    dated = windows_as_dates(plan, stamps)
    (fold,) = dated.folds
    assert fold.data_dates() == (
        date(2022, 3, 1),
        date(2022, 3, 3),
        date(2022, 3, 5),
        date(2022, 3, 7),
    )
    assert (fold.train.bars, fold.test.bars) == (30, 30)
    assert dated.final.data_dates() == (
        date(2022, 3, 1),
        date(2022, 3, 7),
        date(2022, 3, 9),
        date(2022, 3, 10),
    )
    assert dated.holdout.bars == 20
    assert fold_dates(plan, plan.folds[0], stamps) == fold.data_dates()


@given(
    spec=specs,
    purge=st.integers(0, 12),
    per_day=st.integers(2, 24),
    extra=st.integers(0, 3_000),
)
def test_hourly_dates_select_only_their_windows_bars(
    spec: WalkForwardSpec, purge: int, per_day: int, extra: int
) -> None:
    # Test windows of at least three days always keep a whole day after trimming.
    sizes = {"purge_bars": purge, "min_train_bars": 3 * per_day, "min_test_bars": 3 * per_day}
    n_bars = minimum_bars(spec, FoldSizes(**sizes)) + extra
    stamps = hourly(n_bars, per_day)
    plan = plan_walk_forward(n_bars, spec, FoldSizes(**sizes))
    for fold in (*plan.folds, plan.final):
        dates = fold_dates(plan, fold, stamps)
        DataSpec(
            **dates._asdict(), timeframe="1h"
        )  # test_start > train_end, train_start < train_end
        train = days_selected(stamps, dates.train_start, dates.train_end)
        test = days_selected(stamps, dates.test_start, dates.test_end)
        # The dates select a part of each window, losing less than a day at either end.
        for chosen, window in ((train, fold.train), (test, fold.test)):
            assert window.start <= chosen.start < window.start + per_day
            assert window.stop - per_day < chosen.stop <= window.stop


def test_a_window_inside_one_day_cannot_be_given_as_dates() -> None:
    # 60 bars a day: every window of this plan starts and ends mid-day.
    spec = WalkForwardSpec(folds=3, holdout_fraction=0.2)
    plan = plan_walk_forward(
        200, spec, FoldSizes(purge_bars=1, min_train_bars=20, min_test_bars=20)
    )
    stamps = np.datetime64("2022-03-01T00:00:00", "s") + np.arange(200) * np.timedelta64(24, "m")
    with pytest.raises(StrategyValidationError, match="hold no whole day"):
        windows_as_dates(plan, stamps)
    with pytest.raises(ValueError, match="the plan covers 200 bars, got 199 timestamps"):
        windows_as_dates(plan, stamps[:-1])


# --- the bundled series ----------------------------------------------------------------------


@pytest.mark.parametrize("folds", [3, 5])
@pytest.mark.parametrize("mode", ["anchored", "rolling"])
def test_plans_over_the_bundled_sp500_series(tmp_path: Path, folds: int, mode: str) -> None:
    market = MarketData(tmp_path)
    bars = market.load("SP500")
    spec = WalkForwardSpec.model_validate({"folds": folds, "mode": mode})
    purge = spec.purge_for(LabelSpec().horizon)
    plan = plan_walk_forward(len(bars), spec, FoldSizes(purge_bars=purge))
    dated = windows_as_dates(plan, bars.timestamps)
    for fold, window in zip((*dated.folds, dated.final), (*plan.folds, plan.final), strict=True):
        dates = fold.data_dates()
        DataSpec(**dates._asdict())
        # Daily bars: each range loads exactly its window's bars.
        train = market.load("SP500", "1d", dates.train_start, dates.train_end)
        test = market.load("SP500", "1d", dates.test_start, dates.test_end)
        assert np.array_equal(
            train.timestamps, bars.timestamps[window.train.start : window.train.stop]
        )
        assert np.array_equal(
            test.timestamps, bars.timestamps[window.test.start : window.test.stop]
        )
    assert dated.holdout.last == date.fromisoformat(bars.last_timestamp[:10])
    days = bars.timestamps.astype("datetime64[D]")
    assert describe(plan, bars.timestamps).endswith(
        f"purge {purge} bars, holdout {days[plan.holdout.start]}…{days[-1]} "
        f"({plan.holdout.bars:,} bars)"
    )
