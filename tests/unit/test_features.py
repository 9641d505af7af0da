"""Feature matrices: columns, warm-up, parameter checks and no look-ahead over whole strategies."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
from pydantic import ValidationError

from ktrdr.data.bars import Bars
from ktrdr.data.market import MarketData
from ktrdr.errors import StrategyValidationError
from ktrdr.indicators import (
    INDICATOR_DEFAULTS,
    compute_features,
    feature_names,
    technical,
    trapezoid,
    triangular,
)
from ktrdr.strategies.models import (
    FuzzyFeatureSpec,
    IndicatorSpec,
    IndicatorType,
    StrategyConfig,
)


@pytest.fixture(scope="module")
def sp500(tmp_path_factory: pytest.TempPathFactory) -> Bars:
    return MarketData(Path(tmp_path_factory.mktemp("data"))).load("SP500")


def strategy(
    indicators: list[dict[str, Any]], fuzzy: list[dict[str, Any]] | None = None
) -> StrategyConfig:
    return StrategyConfig.model_validate(
        {"name": "test", "indicators": indicators, "fuzzy": fuzzy or []}
    )


EVERY_TYPE = strategy(
    [
        {"name": "rsi", "type": "rsi", "params": {"period": 14}},
        {"name": "sma_x", "type": "sma_cross", "params": {"fast": 5, "slow": 20}},
        {"name": "ema_x", "type": "ema_cross", "params": {"fast": 5, "slow": 20}},
        {"name": "macd", "type": "macd"},
        {"name": "bb", "type": "bollinger", "params": {"period": 20, "k": 2}},
        {"name": "atr", "type": "atr"},
        {"name": "ret", "type": "returns"},
        {"name": "mom", "type": "momentum", "params": {"period": 10}},
    ],
    [
        {
            "indicator": "rsi",
            "sets": [
                {"name": "low", "shape": "trapezoid", "points": [0, 0, 25, 40]},
                {"name": "mid", "shape": "triangular", "points": [30, 50, 70]},
            ],
        },
        {
            "indicator": "mom",
            "sets": [{"name": "up", "shape": "trapezoid", "points": [0, 0.05, 10, 10]}],
        },
    ],
)


def test_every_indicator_type_has_a_computation() -> None:
    assert set(INDICATOR_DEFAULTS) == set(get_args(IndicatorType))


def test_columns_fuzzy_sets_first_then_raw_indicators(sp500: Bars) -> None:
    features = compute_features(EVERY_TYPE, sp500)
    assert features.names == [
        "rsi_low", "rsi_mid", "mom_up", "sma_x", "ema_x", "macd", "bb", "atr", "ret",
    ]  # fmt: skip
    assert features.names == feature_names(EVERY_TYPE)
    assert features.values.dtype == np.float64
    assert features.values.shape == (len(sp500), 9)


def test_columns_hold_memberships_and_raw_values(sp500: Bars) -> None:
    features = compute_features(EVERY_TYPE, sp500)
    column = dict(zip(features.names, features.values.T, strict=True))
    rsi = technical.rsi(sp500.close, 14)
    np.testing.assert_array_equal(column["rsi_low"], trapezoid(rsi, 0, 0, 25, 40))
    np.testing.assert_array_equal(column["rsi_mid"], triangular(rsi, 30, 50, 70))
    np.testing.assert_array_equal(column["atr"], technical.atr(sp500.high, sp500.low, sp500.close))
    np.testing.assert_array_equal(column["bb"], technical.bollinger(sp500.close, 20, 2.0))


def test_valid_from_is_the_end_of_the_longest_warm_up(sp500: Bars) -> None:
    features = compute_features(EVERY_TYPE, sp500)
    assert features.valid_from == 33  # MACD: 26-bar EMA, then a 9-bar signal EMA
    assert np.isfinite(features.valid_values).all()
    assert not np.isfinite(features.values[features.valid_from - 1]).all()
    assert features.valid_values.shape[0] == len(sp500) - 33


@pytest.mark.parametrize("t", [33, 34, 50, 250, 1_000, 4_000])
def test_no_look_ahead_features_on_a_prefix_match_the_full_series(sp500: Bars, t: int) -> None:
    full = compute_features(EVERY_TYPE, sp500)
    prefix = compute_features(EVERY_TYPE, sp500.slice(0, t + 1))
    np.testing.assert_array_equal(prefix.values[t], full.values[t])
    np.testing.assert_array_equal(prefix.values, full.values[: t + 1])


def test_too_few_bars_names_the_slowest_feature(sp500: Bars) -> None:
    with pytest.raises(StrategyValidationError, match="'macd' is still warming up after all 20"):
        compute_features(EVERY_TYPE, sp500.slice(0, 20))


@pytest.mark.parametrize(
    ("indicator", "message"),
    [
        ({"type": "rsi", "params": {"period": 0}}, "period must be a whole number"),
        ({"type": "rsi", "params": {"period": 2.5}}, "period must be a whole number"),
        ({"type": "atr", "params": {"period": float("nan")}}, "period must be a whole number"),
        ({"type": "macd", "params": {"signal": -1}}, "signal must be a whole number"),
        ({"type": "ema_cross", "params": {"fast": 30, "slow": 20}}, "fast .30. must be shorter"),
        ({"type": "sma_cross", "params": {"fast": 40}}, "fast .40. must be shorter than slow .30."),
        ({"type": "bollinger", "params": {"k": 0}}, "k must be a positive number"),
        ({"type": "returns", "params": {"window": 3}}, "unknown parameter 'window'"),
    ],
)
def test_bad_parameters_are_strategy_errors(
    sp500: Bars, indicator: dict[str, Any], message: str
) -> None:
    # The strategy model refuses them when it is built (the one check for files and API)...
    with pytest.raises(ValidationError, match=message) as refused:
        strategy([{"name": "ind", **indicator}])
    error = refused.value.errors()[0]
    assert "'ind'" in error["msg"]
    assert error["ctx"]["indicator"] == "ind"
    # ...and a config built without validation is still refused before anything is computed.
    unchecked = StrategyConfig.model_construct(
        name="test", indicators=[IndicatorSpec.model_construct(name="ind", **indicator)]
    )
    with pytest.raises(StrategyValidationError, match=message) as caught:
        compute_features(unchecked, sp500)
    assert "'ind'" in caught.value.message
    assert caught.value.details["indicator"] == "ind"


def test_clashing_feature_names_are_rejected() -> None:
    indicators = [{"name": "rsi", "type": "rsi"}, {"name": "rsi_low", "type": "returns"}]
    fuzzy = [
        {
            "indicator": "rsi",
            "sets": [{"name": "low", "shape": "triangular", "points": [0, 1, 2]}],
        }
    ]
    with pytest.raises(ValidationError, match="repeated feature names: rsi_low"):
        strategy(indicators, fuzzy)
    unchecked = StrategyConfig.model_construct(
        name="test",
        indicators=[IndicatorSpec.model_validate(spec) for spec in indicators],
        fuzzy=[FuzzyFeatureSpec.model_validate(feature) for feature in fuzzy],
    )
    with pytest.raises(StrategyValidationError, match="repeated feature names: rsi_low"):
        feature_names(unchecked)
