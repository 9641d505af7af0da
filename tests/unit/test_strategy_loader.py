"""Strategy files: shipped examples, paths, round trips, and errors that name field and line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ktrdr.data.market import MarketData
from ktrdr.errors import NotFoundError, StrategyValidationError
from ktrdr.indicators import compute_features
from ktrdr.strategies.loader import dump_strategy, list_examples, load_strategy, parse_strategy

MINIMAL = """\
name: minimal
indicators:
  - name: rsi
    type: rsi
    params: {period: 14}
"""


def test_examples_are_listed() -> None:
    assert {"rsi_mean_reversion", "trend_momentum"} <= set(list_examples())
    assert list_examples() == sorted(list_examples())


@pytest.mark.parametrize("name", list_examples())
def test_every_example_loads_and_computes_features_on_sp500(name: str, tmp_path: Path) -> None:
    config = load_strategy(name)
    assert config.name == name
    bars = MarketData(tmp_path).load(config.data.symbol, config.data.timeframe)
    features = compute_features(config, bars)
    assert features.values.shape == (len(bars), len(features.names))
    assert features.valid_from < 100
    assert np.isfinite(features.valid_values).all()


def test_example_feature_columns() -> None:
    from ktrdr.indicators import feature_names

    assert feature_names(load_strategy("rsi_mean_reversion")) == [
        "rsi_low", "rsi_neutral", "rsi_high", "bb_position", "ret_1d",
    ]  # fmt: skip
    assert feature_names(load_strategy("trend_momentum")) == [
        "momentum_falling", "momentum_flat", "momentum_rising", "ema_cross", "macd", "atr",
    ]  # fmt: skip


@pytest.mark.parametrize("name", list_examples())
def test_dump_then_parse_gives_the_same_config(name: str) -> None:
    config = load_strategy(name)
    text = dump_strategy(config)
    assert parse_strategy(text) == config
    assert "params: {period: 14}" in text or "params: {fast: 12" in text  # written as people do


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".YAML"])
def test_load_yaml_file_by_path(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"mine{suffix}"
    path.write_text(MINIMAL)
    config = load_strategy(str(path))
    assert (config.name, config.indicators[0].params) == ("minimal", {"period": 14.0})


def test_load_json_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "js", "indicators": [{"name": "r", "type": "returns"}]}))
    assert load_strategy(str(path)).indicators[0].type == "returns"


def test_unknown_example_lists_the_examples() -> None:
    with pytest.raises(NotFoundError, match="examples: rsi_mean_reversion, trend_momentum"):
        load_strategy("no_such_strategy")


def test_missing_file_and_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such strategy file"):
        load_strategy(str(tmp_path / "gone.yaml"))
    other = tmp_path / "strategy.txt"
    other.write_text(MINIMAL)
    with pytest.raises(StrategyValidationError, match=r"must end in \.yaml, \.yml or \.json"):
        load_strategy(str(other))


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(MINIMAL + "  - name: [unclosed\n")
    with pytest.raises(StrategyValidationError, match=r"broken\.yaml line \d+, column \d+") as err:
        load_strategy(str(path))
    assert err.value.details["line"] in (6, 7)


def test_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "name": "x",\n  "indicators": [,]\n}\n')
    with pytest.raises(StrategyValidationError, match=r"broken\.json line 3, column 18"):
        load_strategy(str(path))


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(StrategyValidationError, match="expected a mapping"):
        parse_strategy("- just\n- a list\n")
    with pytest.raises(StrategyValidationError, match="got NoneType"):
        parse_strategy("")


@pytest.mark.parametrize(
    ("text", "field", "line", "message"),
    [
        (MINIMAL.replace("type: rsi", "type: rsx"), "indicators[0].type", 4, "Input should be"),
        (MINIMAL.replace("name: minimal\n", ""), "name", 1, "Field required"),
        (MINIMAL + "colour: blue\n", "colour", 6, "Extra inputs are not permitted"),
        (MINIMAL + "model: {epochs: 0}\n", "model.epochs", 6, "greater than or equal to 1"),
        (
            MINIMAL + "data: {train_end: 2015-01-01, test_start: 2014-01-01}\n",
            "data",
            6,
            "test_start must be after train_end",
        ),
        (
            MINIMAL
            + "fuzzy:\n  - indicator: rsi\n    sets:\n"
            + "      - {name: low, shape: triangular, points: [0, 30]}\n",
            "fuzzy[0].sets[0]",
            9,
            "a triangular set needs 3 points, got 2",
        ),
        (
            MINIMAL + "fuzzy:\n  - indicator: nope\n    sets:\n"
            "      - {name: low, shape: triangular, points: [0, 10, 30]}\n",
            "(strategy)",
            1,
            "fuzzy sets refer to unknown indicator 'nope'",
        ),
        (
            MINIMAL.replace("{period: 14}", "{period: 0}"),
            "indicators[0].params.period",
            5,
            "period must be a whole number of bars >= 1, got 0",
        ),
        (
            MINIMAL.replace("rsi\n    params: {period: 14}", "macd\n    params: {fast: 40}"),
            "indicators[0].params.fast",
            5,
            "fast (40) must be shorter than slow (26)",
        ),
    ],
)  # fmt: skip
def test_schema_errors_name_the_field_and_line(
    text: str, field: str, line: int, message: str
) -> None:
    with pytest.raises(StrategyValidationError) as caught:
        parse_strategy(text, source="mine.yaml")
    error = caught.value
    assert error.message.startswith(f"mine.yaml: {field} (line {line}): ")
    assert message in error.message
    first = error.details["errors"][0]
    assert (first["field"], first["line"]) == (field, line)


def test_all_schema_errors_are_reported_together() -> None:
    text = "name: bad name!\nindicators:\n  - name: r\n    type: nope\n"
    with pytest.raises(StrategyValidationError) as caught:
        parse_strategy(text)
    fields = [e["field"] for e in caught.value.details["errors"]]
    assert fields == ["name", "indicators[0].type"]
