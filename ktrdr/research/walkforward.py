"""Walk-forward windows: K train/test folds over a series, then a final holdout.

A research cycle used to train once and backtest once. Here it is evaluated on ``folds``
test windows in time order, each with a model trained only on bars before it, and the
last ``holdout_fraction`` of the series is kept apart for one final, untouched check::

    bar 0                                                                         n_bars
    |warm|===== first train =====|p|  test 0  |  test 1  |  test 2  |p|  holdout  |

    anchored  fold 0 |===========|p|[test 0 ]
              fold 1 |======================|p|[test 1 ]
              fold 2 |=================================|p|[test 2 ]
              final  |============================================|p|[holdout ]

    rolling   fold 0 |===========|p|[test 0 ]
              fold 1            |===========|p|[test 1 ]
              fold 2                       |===========|p|[test 2 ]
              final                                   |===========|p|[holdout ]

Every window is a ``[start, stop)`` pair of bar indices. The rules:

- ``warm``: the first ``warmup_bars`` bars belong to no window (indicators are still
  undefined there); the first train window starts at bar ``warmup_bars``.
- ``holdout``: the last ``round(n_bars * holdout_fraction)`` bars, at least
  ``min_test_bars`` of them.
- ``p``: a purge gap of ``purge_bars`` bars before every test window and before the
  holdout. A label looks ``horizon`` bars ahead, so with ``purge_bars >= horizon`` no
  training label is computed from a price its test window will trade on.
- The K test windows are equal in size and tile, in order, everything between the first
  train window's purge gap and the holdout's purge gap. Their size follows the K + 1 equal
  chunks of an expanding split (the first train window as long as one test window), made
  smaller when the first train window needs ``min_train_bars`` and larger when a test
  window needs ``min_test_bars``; the remainder of the division goes to the first train
  window.
- Each fold trains on bars that end ``purge_bars`` before its test window. Anchored: every
  train window starts at ``warmup_bars``, so later folds train on more bars. Rolling: every
  train window is as long as the first one and slides with its test window.
- The final fold trains by the same rule on the bars before the holdout's purge gap.

``windows_as_dates`` turns the windows into dates for a ``DataSpec`` (whose ranges are whole
days). For daily bars a window's dates are its bars' dates. Intraday, several bars share a
day, so a window that starts or ends in the middle of a day keeps only its whole days: the
dates of a window then select a subset of its bars, every guarantee above carries over to
the dates, and ``test_start > train_end`` holds even with a purge of 0 bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from ktrdr.errors import StrategyValidationError

if TYPE_CHECKING:  # numpy is imported where dates are computed: the CLI reads the spec only
    import numpy as np

    from ktrdr.data.bars import TimeArray

WalkForwardMode = Literal["rolling", "anchored"]


class WalkForwardSpec(BaseModel):
    """How a cycle splits its series: ``folds`` test windows plus a final holdout."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    folds: int = Field(default=3, ge=1, le=20)
    mode: WalkForwardMode = "anchored"
    holdout_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    # None: purge the label horizon (see ``purge_for``), the least that keeps labels clean.
    purge_bars: int | None = Field(default=None, ge=0, le=500)

    def purge_for(self, horizon: int) -> int:
        """The purge gap in bars for labels that look ``horizon`` bars ahead."""
        return horizon if self.purge_bars is None else self.purge_bars


@dataclass(frozen=True)
class Window:
    """Bars ``[start, stop)`` of a series."""

    start: int
    stop: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.stop:
            raise ValueError(f"a window needs 0 <= start <= stop, got [{self.start}, {self.stop})")

    @property
    def bars(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class FoldWindow:
    """Fold ``index`` (0-based, in time order) trains on ``train`` and is tested on ``test``."""

    index: int
    train: Window
    test: Window


@dataclass(frozen=True)
class FoldSizes:
    """The bar counts a plan is made with: ``purge_bars`` before every test window (usually
    ``spec.purge_for(horizon)``), ``warmup_bars`` in no window, and the least bars a train
    and a test window may have. They come from code, not from a user's spec: a wrong one is
    a caller's bug (``ValueError``)."""

    purge_bars: int
    warmup_bars: int = 0
    min_train_bars: int = 250
    min_test_bars: int = 60

    def __post_init__(self) -> None:
        if self.warmup_bars < 0 or self.purge_bars < 0:
            raise ValueError(
                f"warmup_bars ({self.warmup_bars}) and purge_bars ({self.purge_bars}) must be >= 0"
            )
        if self.min_train_bars < 1 or self.min_test_bars < 1:
            raise ValueError(
                f"min_train_bars ({self.min_train_bars}) and min_test_bars "
                f"({self.min_test_bars}) must be >= 1"
            )


@dataclass(frozen=True)
class WalkForwardPlan:
    """The windows of one walk-forward evaluation over ``n_bars`` bars."""

    folds: tuple[FoldWindow, ...]
    holdout: Window
    holdout_train: Window  # what the final model trains on before the holdout
    n_bars: int
    mode: WalkForwardMode
    purge_bars: int
    warmup_bars: int

    @property
    def final(self) -> FoldWindow:
        """The holdout as one more fold (index K), trained by the same rule as the others."""
        return FoldWindow(len(self.folds), self.holdout_train, self.holdout)


_MAX_BARS = 2**53


def _holdout_bars(n_bars: int, spec: WalkForwardSpec) -> int:
    return round(n_bars * spec.holdout_fraction)


def _fits(n_bars: int, spec: WalkForwardSpec, body: int, min_test_bars: int) -> bool:
    holdout = _holdout_bars(n_bars, spec)
    return holdout >= min_test_bars and n_bars - holdout >= body


def minimum_bars(spec: WalkForwardSpec, sizes: FoldSizes) -> int:
    """The fewest bars that hold ``spec``'s plan (see ``plan_walk_forward``)."""
    min_test_bars = sizes.min_test_bars
    body = sizes.warmup_bars + sizes.min_train_bars + 2 * sizes.purge_bars
    body += spec.folds * min_test_bars
    # Both the holdout and what precedes it grow by at most one bar per added bar, so the
    # plans that fit are exactly n >= some minimum: a binary search finds it. A tiny holdout
    # fraction can ask for more bars than floats count exactly; such a plan is never made.
    low, high = 1, body
    while not _fits(high, spec, body, min_test_bars) and high < _MAX_BARS:
        low, high = high + 1, min(2 * high, _MAX_BARS)
    while low < high:
        middle = (low + high) // 2
        if _fits(middle, spec, body, min_test_bars):
            high = middle
        else:
            low = middle + 1
    return low


def plan_walk_forward(n_bars: int, spec: WalkForwardSpec, sizes: FoldSizes) -> WalkForwardPlan:
    """The folds and holdout of ``spec`` over ``n_bars`` bars (the rules: module docstring).
    Raises ``StrategyValidationError`` when the bars cannot hold the plan."""
    needed = minimum_bars(spec, sizes)
    if n_bars < needed:
        raise _too_few_bars(n_bars, needed, spec, sizes)
    warmup_bars, purge_bars = sizes.warmup_bars, sizes.purge_bars
    min_train_bars, min_test_bars = sizes.min_train_bars, sizes.min_test_bars
    holdout = Window(n_bars - _holdout_bars(n_bars, spec), n_bars)
    # The first train window and the K test windows share the bars between the warmup and
    # the holdout's purge gap, less the first fold's own purge gap.
    room = holdout.start - purge_bars - warmup_bars - purge_bars
    k = spec.folds
    test_bars = min(max(room // (k + 1), min_test_bars), (room - min_train_bars) // k)
    train_bars = room - k * test_bars
    first_test = warmup_bars + train_bars + purge_bars

    def train_before(test_start: int) -> Window:
        stop = test_start - purge_bars
        return Window(warmup_bars if spec.mode == "anchored" else stop - train_bars, stop)

    folds = tuple(
        FoldWindow(i, train_before(start), Window(start, start + test_bars))
        for i, start in enumerate(range(first_test, first_test + k * test_bars, test_bars))
    )
    return WalkForwardPlan(
        folds=folds,
        holdout=holdout,
        holdout_train=train_before(holdout.start),
        n_bars=n_bars,
        mode=spec.mode,
        purge_bars=purge_bars,
        warmup_bars=warmup_bars,
    )


def _too_few_bars(
    n_bars: int, needed: int, spec: WalkForwardSpec, sizes: FoldSizes
) -> StrategyValidationError:
    k = spec.folds
    warmup_bars, purge_bars = sizes.warmup_bars, sizes.purge_bars
    min_train_bars, min_test_bars = sizes.min_train_bars, sizes.min_test_bars
    parts = [f"{warmup_bars:,} warmup"] if warmup_bars else []
    parts += [
        f"{min_train_bars:,} to train",
        f"{purge_bars:,} purge",
        f"{k} x {min_test_bars:,} test",
        f"{purge_bars:,} purge",
        f"a {spec.holdout_fraction:.0%} holdout of at least {min_test_bars:,}",
    ]
    return StrategyValidationError(
        f"{k} {spec.mode} fold{'s' if k != 1 else ''} need at least {needed:,} bars "
        f"({' + '.join(parts)}); the series has {n_bars:,}",
        details={
            "field": "walk_forward",
            "bars": n_bars,
            "needed": needed,
            "folds": k,
            "purge_bars": purge_bars,
            "warmup_bars": warmup_bars,
            "min_train_bars": min_train_bars,
            "min_test_bars": min_test_bars,
        },
    )


# --- the windows as dates -------------------------------------------------------------------


@dataclass(frozen=True)
class DateWindow:
    """A window's whole days: its ``bars`` bars dated ``first`` through ``last``."""

    first: date
    last: date
    bars: int


class FoldDates(NamedTuple):
    """A fold's ranges as ``DataSpec`` takes them (inclusive dates, whole days)."""

    train_start: date
    train_end: date
    test_start: date
    test_end: date


@dataclass(frozen=True)
class DatedFold:
    index: int
    train: DateWindow
    test: DateWindow

    def data_dates(self) -> FoldDates:
        return FoldDates(self.train.first, self.train.last, self.test.first, self.test.last)


@dataclass(frozen=True)
class DatedPlan:
    folds: tuple[DatedFold, ...]
    final: DatedFold  # trains on ``plan.holdout_train``, tested on the holdout

    @property
    def holdout(self) -> DateWindow:
        return self.final.test


def windows_as_dates(plan: WalkForwardPlan, timestamps: TimeArray) -> DatedPlan:
    """``plan``'s windows as the dates of their whole days (see the module docstring)."""
    days = _days(plan, timestamps)
    return DatedPlan(
        folds=tuple(_dated_fold(fold, days) for fold in plan.folds),
        final=_dated_fold(plan.final, days),
    )


def fold_dates(plan: WalkForwardPlan, fold: FoldWindow, timestamps: TimeArray) -> FoldDates:
    """One fold of ``plan`` (or ``plan.final``) as ``DataSpec`` dates: train_start,
    train_end, test_start, test_end, with ``test_start > train_end``."""
    return _dated_fold(fold, _days(plan, timestamps)).data_dates()


def describe(plan: WalkForwardPlan, timestamps: TimeArray | None = None) -> str:
    """One line for people: the folds, the purge and where the holdout lies (its dates when
    ``timestamps`` are given, else its bars)."""
    k = len(plan.folds)
    holdout = plan.holdout
    if timestamps is None:
        where = f"bars {holdout.start:,}…{holdout.stop - 1:,}"
    else:
        days = _days(plan, timestamps)
        where = f"{days[holdout.start]}…{days[holdout.stop - 1]}"
    return (
        f"{k} {plan.mode} fold{'' if k == 1 else 's'} of {plan.folds[0].test.bars:,} test bars, "
        f"purge {plan.purge_bars} bar{'' if plan.purge_bars == 1 else 's'}, "
        f"holdout {where} ({holdout.bars:,} bars)"
    )


def _days(plan: WalkForwardPlan, timestamps: TimeArray) -> TimeArray:
    if len(timestamps) != plan.n_bars:
        raise ValueError(
            f"the plan covers {plan.n_bars:,} bars, got {len(timestamps):,} timestamps"
        )
    return timestamps.astype("datetime64[D]")


def _dated_fold(fold: FoldWindow, days: TimeArray) -> DatedFold:
    return DatedFold(fold.index, _whole_days(fold.train, days), _whole_days(fold.test, days))


def _whole_days(window: Window, days: TimeArray) -> DateWindow:
    """The days all of whose bars lie in ``window``: a ``DataSpec`` range selects whole days,
    so a partial day at either end would pull in bars of the neighbouring window."""
    if window.bars == 0 or window.stop > len(days):
        raise ValueError(f"[{window.start}, {window.stop}) is not a window of {len(days)} bars")
    import numpy as np

    start, stop = window.start, window.stop
    if start > 0 and days[start - 1] == days[start]:
        start = int(np.searchsorted(days, days[start], side="right"))
    if 0 < stop < len(days) and days[stop] == days[stop - 1]:
        stop = int(np.searchsorted(days, days[stop - 1], side="left"))
    if start >= stop:
        raise StrategyValidationError(
            f"bars {window.start:,}…{window.stop - 1:,} ({days[window.start]}…"
            f"{days[window.stop - 1]}) hold no whole day, so they cannot be given as dates; "
            "use fewer folds or a longer series",
            details={"field": "walk_forward", "start": window.start, "stop": window.stop},
        )
    return DateWindow(_date(days[start]), _date(days[stop - 1]), stop - start)


def _date(day: np.datetime64) -> date:
    return date.fromisoformat(str(day))
