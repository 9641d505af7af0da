"""From a strategy's indicator and fuzzy specs to the feature matrix a model trains on.

The columns are, in order: one membership column per fuzzy set (``<indicator>_<set>``, in
the order of ``strategy.fuzzy``), then the raw value of every indicator that has no fuzzy
sets (named after the indicator, in the order of ``strategy.indicators``). Rows are bars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ktrdr.data.bars import Bars, FloatArray
from ktrdr.errors import StrategyValidationError
from ktrdr.indicators import technical
from ktrdr.indicators.fuzzy import membership
from ktrdr.strategies.indicator_params import INDICATOR_DEFAULTS, Params
from ktrdr.strategies.models import IndicatorSpec, StrategyConfig, feature_names, indicator_params

# The strategy package owns what an indicator is (its types, parameters and rules, the
# feature names); this package only computes. Re-exported here for existing callers.
__all__ = [
    "INDICATOR_DEFAULTS",
    "FeatureMatrix",
    "assemble_features",
    "compute_features",
    "compute_indicator",
    "feature_names",
    "indicator_params",
]

Computation = Callable[[Bars, Params], FloatArray]


def _int(params: Params, name: str) -> int:
    return int(params[name])


_COMPUTATIONS: dict[str, Computation] = {
    "rsi": lambda b, p: technical.rsi(b.close, _int(p, "period")),
    "sma_cross": lambda b, p: technical.sma_cross(b.close, _int(p, "fast"), _int(p, "slow")),
    "ema_cross": lambda b, p: technical.ema_cross(b.close, _int(p, "fast"), _int(p, "slow")),
    "macd": lambda b, p: technical.macd(
        b.close, _int(p, "fast"), _int(p, "slow"), _int(p, "signal")
    ),
    "bollinger": lambda b, p: technical.bollinger(b.close, _int(p, "period"), p["k"]),
    "atr": lambda b, p: technical.atr(b.high, b.low, b.close, _int(p, "period")),
    "returns": lambda b, p: technical.returns(b.close, _int(p, "period")),
    "momentum": lambda b, p: technical.momentum(b.close, _int(p, "period")),
}


def compute_indicator(spec: IndicatorSpec, bars: Bars) -> FloatArray:
    """One indicator's values for every bar (NaN during warm-up)."""
    return _COMPUTATIONS[spec.type](bars, indicator_params(spec))


@dataclass(frozen=True, eq=False)
class FeatureMatrix:
    """Feature values per bar; rows before ``valid_from`` are still warming up (contain NaN)."""

    names: list[str]
    values: FloatArray  # float64, shape (n_bars, n_features)
    valid_from: int

    @property
    def valid_values(self) -> FloatArray:
        return self.values[self.valid_from :]


def assemble_features(strategy: StrategyConfig, raw: dict[str, FloatArray]) -> FloatArray:
    """The feature columns, in their order (module docstring), from each indicator's values
    (``raw``, by indicator name); warm-up rows stay NaN."""
    fuzzified = {feature.indicator for feature in strategy.fuzzy}
    columns = [
        membership(raw[feature.indicator], fuzzy_set.shape, fuzzy_set.points)
        for feature in strategy.fuzzy
        for fuzzy_set in feature.sets
    ]
    columns += [raw[spec.name] for spec in strategy.indicators if spec.name not in fuzzified]
    return np.column_stack(columns).astype(np.float64, copy=False)


def compute_features(strategy: StrategyConfig, bars: Bars) -> FeatureMatrix:
    """Compute every feature column of ``strategy`` over ``bars``.

    ``valid_from`` is the first row from which every row is finite, so
    ``values[valid_from:]`` is safe to train on. Raises ``StrategyValidationError`` when no
    row ever is (e.g. more warm-up than there are bars).
    """
    names = feature_names(strategy)
    raw = {spec.name: compute_indicator(spec, bars) for spec in strategy.indicators}
    values = assemble_features(strategy, raw)

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
