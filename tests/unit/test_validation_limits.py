"""The one validation at the edge: every size a user controls is bounded, every number is
finite, names are matched whole, and a refusal names the field without echoing the input.

These are the domain models the API, the CLI and the designers all go through
(``ktrdr.strategies.models``, ``ktrdr.data.series_names``, the API's request models).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ktrdr.contract.requests import (
    MAX_AGENT_SEED,
    MAX_FILENAME_LENGTH,
    MAX_PATH_LENGTH,
    AgentTriggerRequest,
    BacktestStartRequest,
    DataImportRequest,
    TrainingStartRequest,
)
from ktrdr.data.market import MarketData
from ktrdr.data.series_names import (
    MAX_TIMEFRAME_MINUTES,
    symbol_problem,
    timeframe_minutes,
    timeframe_problem,
)
from ktrdr.errors import InvalidRequestError, NotFoundError, StrategyValidationError
from ktrdr.excerpt import excerpt
from ktrdr.strategies.indicator_params import MAX_BAR_COUNT
from ktrdr.strategies.loader import (
    MAX_REPORTED_ERRORS,
    MAX_STRATEGY_FILE_BYTES,
    load_strategy,
    parse_strategy,
)
from ktrdr.strategies.models import (
    MAX_DESCRIPTION_LENGTH,
    MAX_EPOCHS,
    MAX_FUZZY_SETS,
    MAX_HIDDEN_LAYERS,
    MAX_INDICATORS,
    MAX_INITIAL_CAPITAL,
    MAX_LAYER_UNITS,
    MAX_SAMPLE_EPOCHS,
    MAX_SEED,
    MAX_STRATEGY_NAME_LENGTH,
    StrategyConfig,
    check_training_size,
)


def config(**sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "limits",
        "indicators": [{"name": "rsi", "type": "rsi", "params": {"period": 14}}],
    }
    return {**base, **sections}


def refused_fields(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        StrategyConfig.model_validate(raw)
    return [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


def test_a_plain_strategy_passes() -> None:
    assert StrategyConfig.model_validate(config()).name == "limits"


# --- sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (config(model={"hidden_layers": [64] * (MAX_HIDDEN_LAYERS + 1)}), "model.hidden_layers"),
        (config(model={"hidden_layers": [4096] * 50}), "model.hidden_layers"),
        (config(model={"hidden_layers": [MAX_LAYER_UNITS + 1]}), "model.hidden_layers"),
        (config(model={"hidden_layers": [0]}), "model.hidden_layers"),
        (config(model={"epochs": MAX_EPOCHS + 1}), "model.epochs"),
        (config(name="n" * (MAX_STRATEGY_NAME_LENGTH + 1)), "name"),
        (config(description="d" * (MAX_DESCRIPTION_LENGTH + 1)), "description"),
        (
            config(
                indicators=[{"name": f"r{i}", "type": "rsi"} for i in range(MAX_INDICATORS + 1)]
            ),
            "indicators",
        ),
        (
            config(
                fuzzy=[
                    {
                        "indicator": "rsi",
                        "sets": [
                            {"name": f"s{i}", "shape": "triangular", "points": [0, 1, 2]}
                            for i in range(MAX_FUZZY_SETS + 1)
                        ],
                    }
                ]
            ),
            "fuzzy.0.sets",
        ),
        (config(fuzzy=[{"indicator": "i" * 10_000, "sets": []}]), "fuzzy.0.indicator"),
        (
            config(indicators=[{"name": "r", "type": "rsi", "params": {"period": 10**9}}]),
            "indicators.0",
        ),
        (config(data={"symbol": "S" * 21}), "data.symbol"),
    ],
    ids=[
        "layers-count",
        "layers-50x4096",
        "layer-units",
        "layer-zero",
        "epochs",
        "strategy-name",
        "description",
        "indicators",
        "fuzzy-sets",
        "fuzzy-indicator-name",
        "indicator-period",
        "symbol-length",
    ],
)
def test_every_size_is_bounded_and_names_its_field(raw: dict[str, Any], field: str) -> None:
    assert field in refused_fields(raw)


def test_the_limits_themselves_are_accepted() -> None:
    StrategyConfig.model_validate(
        config(
            model={
                "hidden_layers": [MAX_LAYER_UNITS] * MAX_HIDDEN_LAYERS,
                "epochs": MAX_EPOCHS,
                "seed": MAX_SEED,
            },
            indicators=[
                {"name": f"r{i}", "type": "rsi", "params": {"period": MAX_BAR_COUNT}}
                for i in range(MAX_INDICATORS)
            ],
        )
    )


def test_epochs_times_training_rows_is_bounded() -> None:
    strategy = StrategyConfig.model_validate(config(model={"epochs": 100_000}))
    check_training_size(strategy, 2_900)  # 100,000 epochs of the bundled daily data fit
    with pytest.raises(StrategyValidationError) as caught:
        check_training_size(strategy, MAX_SAMPLE_EPOCHS // 100_000 + 1)
    assert caught.value.details["field"] == "model.epochs"
    assert "use at most 99,980 epochs" in caught.value.message


# --- finite numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("backtest", "initial_capital"),
        ("backtest", "commission"),
        ("backtest", "slippage"),
        ("model", "learning_rate"),
        ("model", "l2"),
        ("labels", "threshold"),
        ("data", "validation_fraction"),
    ],
)
def test_non_finite_numbers_are_refused(section: str, field: str, bad: float) -> None:
    assert f"{section}.{field}" in refused_fields(config(**{section: {field: bad}}))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_fuzzy_points_must_be_finite(bad: float) -> None:
    fuzzy = [
        {
            "indicator": "rsi",
            "sets": [{"name": "low", "shape": "trapezoid", "points": [bad, 0, 20, 35]}],
        }
    ]
    assert "fuzzy.0.sets.0.points.0" in refused_fields(config(fuzzy=fuzzy))


def test_initial_capital_is_bounded() -> None:
    too_much = config(backtest={"initial_capital": MAX_INITIAL_CAPITAL * 10})
    assert "backtest.initial_capital" in refused_fields(too_much)


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 2**64])
def test_seeds_stay_in_numpys_range(seed: int) -> None:
    assert "model.seed" in refused_fields(config(model={"seed": seed}))


def test_agent_seeds_stay_in_range() -> None:
    AgentTriggerRequest(seed=MAX_AGENT_SEED)
    with pytest.raises(ValidationError):
        AgentTriggerRequest(seed=MAX_AGENT_SEED + 1)


# --- names matched whole -------------------------------------------------------------------


@pytest.mark.parametrize(
    "symbol", ["SP500\n", "SP500\r\n", "\nSP500", ".", "..", "A" * 21, "", "a\x00b"]
)
def test_symbols_are_matched_whole(symbol: str) -> None:
    assert symbol_problem(symbol) is not None
    assert "data.symbol" in refused_fields(config(data={"symbol": symbol}))


@pytest.mark.parametrize(
    "timeframe", ["1d\n", "0m", "0d", "00h", "01d", "999999m", "53w", "367d", "9000h", "1 d"]
)
def test_timeframes_are_matched_whole_and_bounded(timeframe: str) -> None:
    assert timeframe_problem(timeframe) is not None
    assert "data.timeframe" in refused_fields(config(data={"timeframe": timeframe}))


@pytest.mark.parametrize("timeframe", ["1m", "15m", "4h", "1d", "52w", "366d"])
def test_real_timeframes_pass(timeframe: str) -> None:
    assert timeframe_problem(timeframe) is None
    assert timeframe_minutes(timeframe) <= MAX_TIMEFRAME_MINUTES


def test_a_trailing_newline_never_reaches_a_file_name(tmp_path: Path) -> None:
    market = MarketData(tmp_path)
    text = "date,open,high,low,close\n2020-01-01,1,1,1,1\n"
    for symbol, timeframe in (("AB\n", "1d"), ("AB", "1d\n"), ("AB", "0m")):
        with pytest.raises(InvalidRequestError):
            market.import_text(text, "upload.csv", symbol, timeframe)
    assert not (tmp_path / "market").exists() or list((tmp_path / "market").iterdir()) == []


# --- indicator parameters: refused up front, the same for every caller ----------------------


def test_bad_indicator_parameters_are_refused_by_the_model() -> None:
    raw = config(indicators=[{"name": "x", "type": "sma_cross", "params": {"fast": 50}}])
    with pytest.raises(ValidationError, match=r"fast \(50\) must be shorter than slow \(30\)"):
        StrategyConfig.model_validate(raw)
    # ...and a request's strategy_config goes through the same model.
    request = TrainingStartRequest(strategy_config=raw)
    with pytest.raises(ValidationError, match="must be shorter"):
        StrategyConfig.model_validate(request.strategy_config)


# --- errors stay small ---------------------------------------------------------------------


def test_a_file_with_thousands_of_mistakes_gives_a_short_error() -> None:
    text = "name: x\nindicators: [{name: r, type: rsi}]\n" + "".join(
        f"k{i}: 1\n" for i in range(5_000)
    )
    started = time.perf_counter()
    with pytest.raises(StrategyValidationError) as caught:
        parse_strategy(text)
    assert time.perf_counter() - started < 5
    assert len(caught.value.details["errors"]) == MAX_REPORTED_ERRORS
    assert caught.value.details["more_errors"] == 5_000 - MAX_REPORTED_ERRORS
    assert len(caught.value.message) < 3_000


def test_a_huge_unknown_key_is_not_echoed() -> None:
    text = "name: x\nindicators: [{name: r, type: rsi}]\n" + "k" * 100_000 + ": 1\n"
    with pytest.raises(StrategyValidationError) as caught:
        parse_strategy(text)
    assert len(caught.value.message) < 500


def test_an_unknown_strategy_name_is_quoted_short() -> None:
    with pytest.raises(NotFoundError) as caught:
        load_strategy("x" * 1_000_000)
    assert len(str(caught.value)) < 500


def test_excerpt_keeps_short_values_and_cuts_long_ones() -> None:
    assert excerpt("abc") == "'abc'"
    long = excerpt("a" * 10_000_000)
    assert len(long) < 100 and "10,000,000 characters" in long


# --- strategy files: regular, bounded, readable --------------------------------------------


def test_strategy_files_must_be_regular_and_bounded(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    started = time.perf_counter()
    with pytest.raises(StrategyValidationError, match="not a regular file"):
        load_strategy(str(fifo))  # would block for ever if opened for a plain read
    assert time.perf_counter() - started < 5

    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_STRATEGY_FILE_BYTES + 1))
    with pytest.raises(StrategyValidationError, match="more than a strategy file may hold"):
        load_strategy(str(big))

    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    with pytest.raises(StrategyValidationError, match="not a regular file"):
        load_strategy(str(folder))

    with pytest.raises(StrategyValidationError, match="not a usable path"):
        load_strategy("a\x00b.yaml")
    with pytest.raises(StrategyValidationError, match="cannot read"):
        load_strategy(str(tmp_path / ("n" * 300 + ".yaml")))  # ENAMETOOLONG


# --- request models: names and paths -------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["", "a\x00b", "a\nb", "\x1b[2J", "x" * (MAX_PATH_LENGTH + 1), "d/" + "n" * 256]
)
def test_request_paths_and_names_are_bounded_and_printable(value: str) -> None:
    with pytest.raises(ValidationError):
        TrainingStartRequest(strategy=value)
    with pytest.raises(ValidationError):
        BacktestStartRequest(model=value)


@pytest.mark.parametrize(
    "filename", ["", ".", "..", "a/b.csv", "a\\b.csv", "a\x00.csv", "f" * (MAX_FILENAME_LENGTH + 1)]
)
def test_import_file_names_are_plain_names(filename: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DataImportRequest(symbol="AB", timeframe="1d", csv_text="x", filename=filename)
    assert caught.value.errors()[0]["loc"] == ("filename",)


@pytest.mark.parametrize("model", [TrainingStartRequest, AgentTriggerRequest])
def test_request_symbols_and_timeframes_use_the_series_rules(model: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        model(symbol="SP500\n", timeframe="0m")
    assert {e["loc"][0] for e in caught.value.errors()} == {"symbol", "timeframe"}


def test_a_strategy_config_with_too_many_keys_is_refused_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(ValidationError) as caught:
        TrainingStartRequest(strategy_config={f"k{i}": 0 for i in range(200_000)})
    assert time.perf_counter() - started < 5
    assert caught.value.error_count() == 1
