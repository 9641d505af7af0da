"""A strategy's grid and walk_forward settings: what the model accepts, what it refuses
(naming the grid path), and the variants ``expand_grid`` makes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ktrdr.errors import StrategyValidationError
from ktrdr.strategies.grid import MAX_GRID_VARIANTS, expand_grid, grid_size
from ktrdr.strategies.loader import dump_strategy, load_strategy, parse_strategy
from ktrdr.strategies.models import StrategyConfig


def fields(**extra: Any) -> dict[str, Any]:
    return {
        "name": "mine",
        "description": "an RSI idea",
        "indicators": [
            {"name": "rsi", "type": "rsi", "params": {"period": 14}},
            {"name": "cross", "type": "sma_cross", "params": {"fast": 10, "slow": 30}},
        ],
        "fuzzy": [
            {
                "indicator": "rsi",
                "sets": [{"name": "low", "shape": "triangular", "points": [0, 20, 40]}],
            }
        ],
        **extra,
    }


def strategy(**extra: Any) -> StrategyConfig:
    return StrategyConfig.model_validate(fields(**extra))


def refusal(grid: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        strategy(grid=grid)
    (error,) = caught.value.errors()
    assert error["loc"] == ("grid",)
    return str(error["msg"])


def test_no_grid_is_the_strategy_itself() -> None:
    plain = strategy()
    assert expand_grid(plain) == [plain]
    assert strategy(grid={}).grid is None  # an empty grid varies nothing
    assert grid_size(None) == 1


def test_every_combination_in_order_named_and_noted() -> None:
    grid = {
        "indicators.rsi.params.period": [7, 14, 21],
        "labels.threshold": [0.01, 0.02],
    }
    variants = expand_grid(strategy(grid=grid, walk_forward={"folds": 2}))
    # The first path changes slowest, as written (an independent double loop).
    expected = [(p, t) for p in (7, 14, 21) for t in (0.01, 0.02)]
    assert [(v.indicators[0].params["period"], v.labels.threshold) for v in variants] == expected
    assert [v.name for v in variants] == [f"mine-g{k}" for k in range(1, 7)]
    assert all(v.grid is None and v.walk_forward is not None for v in variants)
    assert all(v.walk_forward.folds == 2 for v in variants if v.walk_forward)
    assert variants[3].description == (
        "an RSI idea; grid g4: indicators.rsi.params.period=14, labels.threshold=0.02"
    )
    # What the grid does not vary stays the strategy's.
    assert {v.indicators[1].params["slow"] for v in variants} == {30}
    again = expand_grid(strategy(grid=grid, walk_forward={"folds": 2}))
    assert [v.model_dump() for v in again] == [v.model_dump() for v in variants]


def test_each_kind_of_path_reaches_its_field() -> None:
    grid = {
        "indicators.cross.params.slow": [30, 50],
        "fuzzy.rsi.sets.low.points": [[0, 20, 40], [0, 30, 50]],
        "labels.horizon": [5, 10],
        "model.hidden_layers": [[8], [16, 8]],
        "model.learning_rate": [0.001, 0.01],
        "backtest.mode": ["long_flat", "long_short"],
    }
    last = expand_grid(strategy(grid=grid))[-1]
    assert last.name == "mine-g64"
    assert last.indicators[1].params["slow"] == 50
    assert last.fuzzy[0].sets[0].points == [0, 30, 50]
    assert (last.labels.horizon, last.model.hidden_layers) == (10, [16, 8])
    assert (last.model.learning_rate, last.backtest.mode) == (0.01, "long_short")


@pytest.mark.parametrize(
    ("grid", "needles"),
    [
        ({"indicators.macd.params.fast": [5, 8]}, ["indicators.macd.params.fast", "rsi, cross"]),
        ({"indicators.rsi.params.k": [1, 2]}, ["indicators.rsi.params.k", "it takes: period"]),
        ({"labels.foo": [1, 2]}, ["labels.foo", "not a path a grid can vary"]),
        ({"data.symbol": ["SP500", "NASDAQ"]}, ["data.symbol", "not a path"]),
        ({"fuzzy.rsi.sets.high.points": [[1, 2, 3]]}, ["fuzzy set 'high'"]),
        ({"model.hidden_layers": [8, 16]}, ["model.hidden_layers", "not a list of numbers"]),
        ({"labels.threshold": ["high"]}, ["labels.threshold", "not a number"]),
        ({"labels.threshold": [0.01, 0.01]}, ["repeats the value 0.01"]),
        ({"indicators.rsi.params.period": [0, 7]}, ["the value 0", "whole number of bars"]),
        ({"backtest.mode": ["long_flat", "short"]}, ["backtest.mode", "'short'"]),
        # Each value fits alone, two of them together do not: fast must stay below slow.
        (
            {"indicators.cross.params.fast": [10, 20], "indicators.cross.params.slow": [15, 30]},
            ["variant g3", "fast=20", "slow=15", "must be shorter"],
        ),
    ],
)
def test_a_grid_that_cannot_work_is_refused_naming_the_path(
    grid: dict[str, Any], needles: list[str]
) -> None:
    message = refusal(grid)
    for needle in needles:
        assert needle in message, message


def test_the_variants_are_capped() -> None:
    at_cap = {"labels.horizon": list(range(1, 9)), "model.batch_size": list(range(1, 9))}
    assert len(expand_grid(strategy(grid=at_cap))) == MAX_GRID_VARIANTS
    over = {**at_cap, "backtest.mode": ["long_flat", "long_short"]}
    message = refusal(over)
    assert "128 variants (8 × 8 × 2)" in message and f"at most {MAX_GRID_VARIANTS}" in message


def test_a_strategy_file_names_the_grid_and_its_line() -> None:
    text = dump_strategy(strategy()) + "grid:\n  indicators.atr.params.period: [5, 10]\n"
    with pytest.raises(StrategyValidationError) as caught:
        parse_strategy(text, source="mine.yaml")
    (error,) = caught.value.details["errors"]
    assert error["field"] == "grid" and error["line"] == text.count("\n") - 1
    assert "indicators.atr.params.period" in error["message"]


def test_an_invalid_strategy_is_reported_as_itself_not_as_its_grid() -> None:
    doubled = fields(grid={"labels.horizon": [5, 10]})
    doubled["indicators"].append(doubled["indicators"][0])
    with pytest.raises(ValidationError) as caught:
        StrategyConfig.model_validate(doubled)
    (error,) = caught.value.errors()
    assert error["loc"] == () and "must be unique" in error["msg"]


def test_settings_survive_a_round_trip_as_the_strategy_gave_them() -> None:
    mine = strategy(
        walk_forward={"folds": 5, "purge_bars": 10},
        grid={"indicators.rsi.params.period": [7, 14]},
    )
    back = parse_strategy(dump_strategy(mine))
    assert back == mine
    assert back.walk_forward is not None
    # Unset fields stay unset: the backend's defaults fill them, not the spec's own.
    assert back.walk_forward.model_fields_set == {"folds", "purge_bars"}
    assert StrategyConfig.model_validate(mine.model_dump(mode="json")) == mine


def test_a_strategy_without_them_dumps_as_before() -> None:
    example = load_strategy("rsi_mean_reversion")
    dumped = example.model_dump(mode="json")
    assert "walk_forward" not in dumped and "grid" not in dumped
    assert "walk_forward" not in dump_strategy(example)
