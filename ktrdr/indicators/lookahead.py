"""The look-ahead guard: a value at bar ``t`` must not change when the bars after ``t`` go.

"No look-ahead" made executable: compute over the whole series once, recompute on
``bars[: t + 1]`` for a sample of cut points ``t``, and compare row ``t`` of the two (NaN
equals NaN). A computation that reads the next bar (a ``shift(-1)``), scales by the whole
series' mean, or fills gaps backwards gives another row ``t`` once the future is gone.

Recomputing on every prefix would be exact but quadratic, so the cut points are a sample:
always the first bars after the warm-up (where a wrongly seeded average shows) and the last
bars (where a leak that touches only recent data shows), and one random bar in each equal
stretch of the range between them, so repeated seeds cover the whole series.

A strategy is checked twice over: each indicator's raw values (``compute_indicator``) and
each feature column (``compute_features``), so a leak is named by the indicator that
computes it and by the feature columns that carry it into a model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ktrdr.data.bars import Bars, FloatArray
from ktrdr.errors import StrategyValidationError
from ktrdr.indicators.features import (
    assemble_features,
    compute_features,
    compute_indicator,
    feature_names,
)
from ktrdr.strategies.models import StrategyConfig

# How many bars right after the warm-up, and at the very end, every check cuts at.
EDGE_POINTS = 3

ColumnKind = Literal["indicator", "feature", "series"]
SeriesFunction = Callable[[Bars], FloatArray]


@dataclass(frozen=True)
class Mismatch:
    """A cut point where a column's value changed once the bars after it were cut off."""

    bar: int
    timestamp: str
    full: float  # computed over the whole series
    cut: float  # computed over bars[: bar + 1]


@dataclass(frozen=True)
class ColumnFinding:
    """What the guard found for one column: the cut points where it differed, if any.

    ``source`` is what the column is computed by: an indicator's type, a feature's
    indicator, a function's name.
    """

    name: str
    kind: ColumnKind
    source: str
    checked: int
    leaking_bars: tuple[int, ...]
    first: Mismatch | None

    @property
    def leaks(self) -> bool:
        return bool(self.leaking_bars)


@dataclass(frozen=True)
class LookaheadReport:
    """Every column's finding for one strategy (indicators first, then features) or one
    function, over ``bars`` bars of ``symbol`` ``timeframe`` cut at ``cut_points``."""

    subject: str
    symbol: str
    timeframe: str
    bars: int
    cut_points: tuple[int, ...]
    findings: tuple[ColumnFinding, ...]

    @property
    def clean(self) -> bool:
        return not self.leaks

    @property
    def leaks(self) -> tuple[ColumnFinding, ...]:
        return tuple(finding for finding in self.findings if finding.leaks)

    def finding(self, name: str, kind: ColumnKind) -> ColumnFinding:
        """The finding for the column ``name`` of ``kind`` (an indicator and its unfuzzified
        feature share a name)."""
        for finding in self.findings:
            if (finding.name, finding.kind) == (name, kind):
                return finding
        raise KeyError(f"no {kind} {name!r} in the report on {self.subject!r}")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields. JSON has no NaN or infinity: NaN is null, infinities are the
        strings "inf" and "-inf"."""
        return {
            "subject": self.subject,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "bars": self.bars,
            "cut_points": list(self.cut_points),
            "clean": self.clean,
            "findings": [_finding_json(finding) for finding in self.findings],
        }


def _json_number(value: float) -> float | str | None:
    if np.isnan(value):
        return None
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _finding_json(finding: ColumnFinding) -> dict[str, Any]:
    first = finding.first
    return {
        "name": finding.name,
        "kind": finding.kind,
        "source": finding.source,
        "checked": finding.checked,
        "leaks": finding.leaks,
        "leaking_bars": list(finding.leaking_bars),
        "first_leak": None
        if first is None
        else {
            "bar": first.bar,
            "timestamp": first.timestamp,
            "full": _json_number(first.full),
            "cut": _json_number(first.cut),
        },
    }


# --- where to cut ---------------------------------------------------------------------------


def cut_points(start: int, n_bars: int, count: int, seed: int = 0) -> tuple[int, ...]:
    """At most ``count`` sorted bars in ``[start, n_bars)`` to cut the series at: the first
    and last ``EDGE_POINTS`` bars of the range, and one random bar (from ``seed``) in each
    equal stretch of the bars between them. Every bar of a range no longer than ``count``."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    start = max(start, 0)
    if start >= n_bars:
        return ()
    if n_bars - start <= count:
        return tuple(range(start, n_bars))
    edge = min(EDGE_POINTS, count // 2)
    head = list(range(start, start + edge))
    tail = list(range(n_bars - edge, n_bars))
    inner = count - 2 * edge
    # The stretches are longer than one bar (the range holds more than ``count`` bars), so
    # their integer bounds strictly increase and no stretch is empty.
    bounds = np.floor(np.linspace(start + edge, n_bars - edge, inner + 1)).astype(np.int64)
    rng = np.random.default_rng(seed)
    middle = [int(rng.integers(lo, hi)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return tuple(head + middle + tail)


# --- comparing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tolerance:
    rtol: float
    atol: float


def _findings(
    columns: Sequence[tuple[str, str]],
    kind: ColumnKind,
    full: FloatArray,
    cut: FloatArray,
    points: tuple[int, ...],
    bars: Bars,
    tolerance: _Tolerance,
) -> list[ColumnFinding]:
    """One finding per column (name, source) of ``full`` (bars x columns), given ``cut``:
    row i holds the values at bar ``points[i]`` computed on the series cut there."""
    index = np.asarray(points, dtype=np.int64)
    expected = full[index] if index.size else np.empty((0, len(columns)))
    same = np.isclose(cut, expected, rtol=tolerance.rtol, atol=tolerance.atol, equal_nan=True)
    found = []
    for j, (name, source) in enumerate(columns):
        bad = np.flatnonzero(~same[:, j])
        first = None
        if bad.size:
            i = int(bad[0])
            first = Mismatch(
                bar=points[i],
                timestamp=str(bars.timestamps[points[i]]),
                full=float(expected[i, j]),
                cut=float(cut[i, j]),
            )
        leaking = tuple(points[int(i)] for i in bad)
        found.append(ColumnFinding(name, kind, source, len(points), leaking, first))
    return found


# --- any one computation --------------------------------------------------------------------


def _series(fn: SeriesFunction, bars: Bars, name: str) -> FloatArray:
    values = np.asarray(fn(bars), dtype=np.float64)
    if values.shape != (len(bars),):
        raise ValueError(
            f"{name} returned shape {values.shape} for {len(bars)} bars; "
            "a series function returns one value per bar"
        )
    return values


def check_series_function(
    fn: SeriesFunction,
    bars: Bars,
    *,
    name: str = "series",
    sample_points: int = 25,
    seed: int = 0,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    start: int | None = None,
) -> LookaheadReport:
    """Check one computation over bars (one value per bar) for look-ahead.

    Cut points start at ``start``, by default the first bar where ``fn``'s whole-series
    output is finite (the end of its warm-up).
    """
    full = _series(fn, bars, name)
    if start is None:
        finite = np.flatnonzero(np.isfinite(full))
        start = int(finite[0]) if finite.size else 0
    points = cut_points(start, len(bars), sample_points, seed)
    cut = np.array([[_series(fn, bars.slice(0, t + 1), name)[t]] for t in points])
    findings = _findings(
        [(name, name)],
        "series",
        full[:, np.newaxis],
        cut.reshape(len(points), 1),
        points,
        bars,
        _Tolerance(rtol, atol),
    )
    return LookaheadReport(
        subject=name,
        symbol=bars.symbol,
        timeframe=bars.timeframe,
        bars=len(bars),
        cut_points=points,
        findings=tuple(findings),
    )


# --- a whole strategy -----------------------------------------------------------------------


def _feature_sources(strategy: StrategyConfig) -> list[str]:
    """The indicator behind each feature column, in ``compute_features``' column order:
    fuzzy sets first, then the indicators without fuzzy sets."""
    fuzzified = {feature.indicator for feature in strategy.fuzzy}
    return [feature.indicator for feature in strategy.fuzzy for _ in feature.sets] + [
        spec.name for spec in strategy.indicators if spec.name not in fuzzified
    ]


def _whole_series_features(
    strategy: StrategyConfig, bars: Bars, raw: dict[str, FloatArray]
) -> tuple[FloatArray, int]:
    """The feature values over ``bars`` and the first bar to cut at (the end of the warm-up).

    ``compute_features`` refuses a series whose last row is not finite. With validated bars
    only a leak does that past the warm-up (a ``shift(-1)`` has no next bar at the end), so
    the check goes on with the assembled matrix from its first complete row; a series that
    never has one is too short, and its error stands.
    """
    try:
        features = compute_features(strategy, bars)
    except StrategyValidationError:
        values = assemble_features(strategy, raw)
        complete = np.flatnonzero(np.isfinite(values).all(axis=1))
        if not complete.size:
            raise
        return values, int(complete[0])
    return features.values, features.valid_from


def _last_feature_row(
    strategy: StrategyConfig, prefix: Bars, raw: dict[str, FloatArray]
) -> FloatArray:
    """The feature row of the prefix's last bar. ``compute_features`` refuses a prefix whose
    last row is not finite, which is already a leak when the whole series' row is finite;
    the assembled row then names the columns that changed."""
    try:
        values = compute_features(strategy, prefix).values
    except StrategyValidationError:
        values = assemble_features(strategy, raw)
    row: FloatArray = values[-1]
    return row


def check_lookahead(
    strategy: StrategyConfig,
    bars: Bars,
    *,
    sample_points: int = 25,
    seed: int = 0,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> LookaheadReport:
    """Check every indicator and feature column of ``strategy`` over ``bars`` for look-ahead.

    Raises ``StrategyValidationError`` when the features cannot be computed over ``bars``
    at all (e.g. a warm-up longer than the series).
    """
    names = feature_names(strategy)
    sources = _feature_sources(strategy)
    specs = strategy.indicators
    raw_full = {spec.name: compute_indicator(spec, bars) for spec in specs}
    full, start = _whole_series_features(strategy, bars, raw_full)
    if len(sources) != len(names) or full.shape[1] != len(names):
        raise RuntimeError("compute_features' column order changed: update the look-ahead guard")
    points = cut_points(start, len(bars), sample_points, seed)
    raw_cut = np.empty((len(points), len(specs)))
    features_cut = np.empty((len(points), len(names)))
    for i, t in enumerate(points):
        prefix = bars.slice(0, t + 1)
        raw = {spec.name: compute_indicator(spec, prefix) for spec in specs}
        raw_cut[i] = [raw[spec.name][t] for spec in specs]
        features_cut[i] = _last_feature_row(strategy, prefix, raw)
    tolerance = _Tolerance(rtol, atol)
    indicators = [(spec.name, spec.type) for spec in specs]
    raw_values = np.column_stack([raw_full[spec.name] for spec in specs])
    findings = _findings(indicators, "indicator", raw_values, raw_cut, points, bars, tolerance)
    columns = list(zip(names, sources, strict=True))
    findings += _findings(columns, "feature", full, features_cut, points, bars, tolerance)
    return LookaheadReport(
        subject=strategy.name,
        symbol=bars.symbol,
        timeframe=bars.timeframe,
        bars=len(bars),
        cut_points=points,
        findings=tuple(findings),
    )


__all__ = [
    "EDGE_POINTS",
    "ColumnFinding",
    "LookaheadReport",
    "Mismatch",
    "check_lookahead",
    "check_series_function",
    "cut_points",
]
