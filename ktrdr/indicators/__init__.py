"""Technical indicators, fuzzy memberships, and the feature matrix built from a strategy."""

from ktrdr.indicators.features import (
    INDICATOR_DEFAULTS,
    FeatureMatrix,
    compute_features,
    compute_indicator,
    feature_names,
    indicator_params,
)
from ktrdr.indicators.fuzzy import membership, trapezoid, triangular
from ktrdr.indicators.technical import (
    atr,
    bollinger,
    ema,
    ema_cross,
    macd,
    momentum,
    returns,
    rsi,
    sma,
    sma_cross,
)

__all__ = [
    "INDICATOR_DEFAULTS",
    "FeatureMatrix",
    "atr",
    "bollinger",
    "compute_features",
    "compute_indicator",
    "ema",
    "ema_cross",
    "feature_names",
    "indicator_params",
    "macd",
    "membership",
    "momentum",
    "returns",
    "rsi",
    "sma",
    "sma_cross",
    "trapezoid",
    "triangular",
]
