"""From a strategy's indicator and fuzzy specs to the feature matrix a model trains on.

The columns are, in order: one membership column per fuzzy set (``<indicator>_<set>``, in
the order of ``strategy.fuzzy``), then the raw value of every indicator that has no fuzzy
sets (named after the indicator, in the order of ``strategy.indicators``). Rows are bars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ktrdr.data.bars import Bars, FloatArray
from ktrdr.errors import StrategyValidationError
from ktrdr.indicators import technical
from ktrdr.indicators.fuzzy import membership
from ktrdr.strategies.models import IndicatorSpec, StrategyConfig

Params = dict[str, float]

# Parameters that count bars: whole numbers >= 1.
_BAR_COUNTS = ("period", "fast", "slow", "signal")


@dataclass(frozen=True)
class _Kind:
    defaults: Params
    compute: Callable[[Bars, Params], FloatArray]


def _int(params: Params, name: str) -> int:
    return int(params[name])


_KINDS: dict[str, _Kind] = {
    "rsi": _Kind({"period": 14}, lambda b, p: technical.rsi(b.close, _int(p, "period"))),
    "sma_cross": _Kind(
        {"fast": 10, "slow": 30},
        lambda b, p: technical.sma_cross(b.close, _int(p, "fast"), _int(p, "slow")),
    ),
    "ema_cross": _Kind(
        {"fast": 12, "slow": 26},
        lambda b, p: technical.ema_cross(b.close, _int(p, "fast"), _int(p, "slow")),
    ),
    "macd": _Kind(
        {"fast": 12, "slow": 26, "signal": 9},
        lambda b, p: technical.macd(b.close, _int(p, "fast"), _int(p, "slow"), _int(p, "signal")),
    ),
    "bollinger": _Kind(
        {"period": 20, "k": 2.0},
        lambda b, p: technical.bollinger(b.close, _int(p, "period"), p["k"]),
    ),
    "atr": _Kind(
        {"period": 14},
        lambda b, p: technical.atr(b.high, b.low, b.close, _int(p, "period")),
    ),
    "returns": _Kind({"period": 1}, lambda b, p: technical.returns(b.close, _int(p, "period"))),
    "momentum": _Kind({"period": 10}, lambda b, p: technical.momentum(b.close, _int(p, "period"))),
}

INDICATOR_DEFAULTS: dict[str, Params] = {kind: dict(k.defaults) for kind, k in _KINDS.items()}
"""Every indicator type with the parameters it takes and their defaults."""


def indicator_params(spec: IndicatorSpec) -> Params:
    """The spec's params merged over the defaults, checked (``StrategyValidationError``)."""
    kind = _KINDS[spec.type]

    def invalid(param: str, problem: str) -> StrategyValidationError:
        return StrategyValidationError(
            f"indicator {spec.name!r} ({spec.type}): {problem}",
            details={"indicator": spec.name, "type": spec.type, "param": param},
        )

    unknown = sorted(set(spec.params) - set(kind.defaults))
    if unknown:
        takes = ", ".join(kind.defaults)
        raise invalid(unknown[0], f"unknown parameter {unknown[0]!r} (it takes: {takes})")
    params = {**kind.defaults, **spec.params}
    for name, value in params.items():
        if name in _BAR_COUNTS and (not math.isfinite(value) or value != int(value) or value < 1):
            raise invalid(name, f"{name} must be a whole number of bars >= 1, got {value:g}")
        if name == "k" and (not math.isfinite(value) or value <= 0):
            raise invalid(name, f"k must be a positive number, got {value:g}")
    if "fast" in params and params["fast"] >= params["slow"]:
        raise invalid(
            "fast", f"fast ({params['fast']:g}) must be shorter than slow ({params['slow']:g})"
        )
    return params


def compute_indicator(spec: IndicatorSpec, bars: Bars) -> FloatArray:
    """One indicator's values for every bar (NaN during warm-up)."""
    return _KINDS[spec.type].compute(bars, indicator_params(spec))


def feature_names(strategy: StrategyConfig) -> list[str]:
    """The feature columns a strategy produces, checking parameters and name clashes."""
    for spec in strategy.indicators:
        indicator_params(spec)
    fuzzified = {feature.indicator for feature in strategy.fuzzy}
    names = [f"{f.indicator}_{s.name}" for f in strategy.fuzzy for s in f.sets]
    names += [spec.name for spec in strategy.indicators if spec.name not in fuzzified]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise StrategyValidationError(
            f"strategy {strategy.name!r} produces repeated feature names: {', '.join(repeated)}"
            " (rename an indicator or a fuzzy set)",
            details={"features": repeated},
        )
    return names


@dataclass(frozen=True, eq=False)
class FeatureMatrix:
    """Feature values per bar; rows before ``valid_from`` are still warming up (contain NaN)."""

    names: list[str]
    values: FloatArray  # float64, shape (n_bars, n_features)
    valid_from: int

    @property
    def valid_values(self) -> FloatArray:
        return self.values[self.valid_from :]


def compute_features(strategy: StrategyConfig, bars: Bars) -> FeatureMatrix:
    """Compute every feature column of ``strategy`` over ``bars``.

    ``valid_from`` is the first row from which every row is finite, so
    ``values[valid_from:]`` is safe to train on. Raises ``StrategyValidationError`` when no
    row ever is (e.g. more warm-up than there are bars).
    """
    names = feature_names(strategy)
    raw = {spec.name: compute_indicator(spec, bars) for spec in strategy.indicators}
    fuzzified = {feature.indicator for feature in strategy.fuzzy}
    columns = [
        membership(raw[feature.indicator], fuzzy_set.shape, fuzzy_set.points)
        for feature in strategy.fuzzy
        for fuzzy_set in feature.sets
    ]
    columns += [raw[spec.name] for spec in strategy.indicators if spec.name not in fuzzified]
    values = np.column_stack(columns).astype(np.float64, copy=False)

    finite = np.isfinite(values)
    broken_rows = np.flatnonzero(~finite.all(axis=1))
    valid_from = int(broken_rows[-1]) + 1 if broken_rows.size else 0
    if valid_from >= len(bars):
        # With validated bars NaN only comes from warm-up, so name the slowest column.
        first_finite = [int(np.argmax(col)) if col.any() else len(bars) for col in finite.T]
        slowest = names[int(np.argmax(first_finite))]
        raise StrategyValidationError(
            f"strategy {strategy.name!r} has no bar where every feature is defined: "
            f"feature {slowest!r} is still warming up after all {len(bars)} "
            f"{bars.symbol} {bars.timeframe} bars (use more bars or shorter periods)",
            details={"bars": len(bars), "feature": slowest},
        )
    return FeatureMatrix(names=names, values=values, valid_from=valid_from)
