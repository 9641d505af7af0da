"""`ktrdr strategy check`: a clean example exits 0, a feature that reads the next bar exits 1
and is named, and input that cannot be checked exits 2 with one clear line.

The command is a local computation (no backend), so it runs in-process through typer's
CliRunner, joined to a root app the way ``ktrdr.cli.app`` joins every group."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner, Result

from ktrdr.cli.commands import strategy as strategy_check
from ktrdr.config import load_settings
from ktrdr.data.bars import Bars, FloatArray
from ktrdr.data.csv_series import to_csv
from ktrdr.data.market import MarketData
from ktrdr.indicators import features
from ktrdr.strategies.indicator_params import Params
from ktrdr.strategies.loader import load_strategy

LEAKY_STRATEGY = """\
name: peeking
indicators:
  - name: rsi
    type: rsi
  - name: next_day
    type: returns
    params: {period: 1}
fuzzy:
  - indicator: rsi
    sets:
      - {name: low, shape: trapezoid, points: [0, 0, 25, 40]}
"""


def run(*args: str) -> Result:
    root = typer.Typer(pretty_exceptions_enable=False)
    root.add_typer(strategy_check.app, name="strategy")

    @root.callback()
    def _root() -> None:
        """ktrdr command line."""

    return CliRunner().invoke(root, ["strategy", "check", *args])


def assert_bad_input(result: Result, needle: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert needle in result.stderr, result.stderr
    assert "Traceback" not in result.output


def _next_bar_return(b: Bars, _params: Params) -> FloatArray:
    """``close.shift(-1) / close - 1``: what a careless forward-looking feature computes."""
    return np.append(b.close[1:] / b.close[:-1] - 1.0, np.nan)


@pytest.fixture
def leaky_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    # No YAML can express a leak, so one computation of the features table is faked.
    monkeypatch.setitem(features._COMPUTATIONS, "returns", _next_bar_return)


def test_a_clean_example_exits_0_and_lists_every_column() -> None:
    result = run("rsi_mean_reversion")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Look-ahead check of rsi_mean_reversion on SP500 1d: 5,031 bars")
    names = [spec.name for spec in load_strategy("rsi_mean_reversion").indicators]
    names += features.feature_names(load_strategy("rsi_mean_reversion"))
    ticked = [line.split()[1] for line in lines if line.startswith("  ✓ ")]
    assert ticked == names
    assert "✗" not in result.stdout
    assert lines[-1].startswith("No look-ahead")


def test_json_output_is_the_report() -> None:
    result = run("trend_momentum", "--points", "7", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["clean"] is True and report["subject"] == "trend_momentum"
    assert len(report["cut_points"]) == 7
    assert {(f["kind"], f["name"]) for f in report["findings"]} >= {
        ("indicator", "momentum"),
        ("feature", "momentum_rising"),
    }


@pytest.mark.usefixtures("leaky_returns")
def test_a_leaking_feature_exits_1_and_is_named(tmp_path: Path) -> None:
    path = tmp_path / "peeking.yaml"
    path.write_text(LEAKY_STRATEGY, encoding="utf-8")
    result = run(str(path))
    assert result.exit_code == 1, result.output
    crossed = [line for line in result.stdout.splitlines() if line.startswith("  ✗ ")]
    assert [line.split()[1] for line in crossed] == ["next_day", "next_day"]
    assert "differs at 24 of 25 cut points" in crossed[0]
    assert "cut there nan" in crossed[0]
    assert "  ✓ rsi_low" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "Look-ahead found: indicator next_day, feature next_day changed when the bars after "
        "them were cut off."
    )


@pytest.mark.usefixtures("leaky_returns")
def test_a_leak_in_json_exits_1_too() -> None:
    result = run("rsi_mean_reversion", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    leaking = {(f["kind"], f["name"]) for f in report["findings"] if f["leaks"]}
    assert leaking == {("indicator", "ret_1d"), ("feature", "ret_1d")}
    first = next(f["first_leak"] for f in report["findings"] if f["leaks"])
    assert first["cut"] is None and isinstance(first["full"], float)


def test_a_series_imported_on_this_machine_is_checked() -> None:
    bundled = MarketData(load_settings().data_dir).load("SP500")
    MarketData(load_settings().data_dir).import_text(
        to_csv(bundled.slice(0, 400)), "mine.csv", "MINE", "1d"
    )
    result = run("trend_momentum", "--symbol", "MINE")
    assert result.exit_code == 0, result.output
    assert "on MINE 1d: 400 bars" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["no_such_strategy"], "no example strategy 'no_such_strategy'"),
        (["missing/strategy.yaml"], "no such strategy file: 'missing/strategy.yaml'"),
        (["rsi_mean_reversion", "--symbol", "ZZZ"], "no market data for ZZZ 1d"),
        (["rsi_mean_reversion", "--symbol", "ZZZ"], "not series only a remote backend holds"),
        (["rsi_mean_reversion", "--symbol", "../etc"], "invalid symbol '../etc'"),
        (["rsi_mean_reversion", "--timeframe", "1y"], "invalid timeframe '1y'"),
        (["rsi_mean_reversion", "--timeframe", "1h"], "no market data for SP500 1h"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    assert_bad_input(run(*args), needle)


def test_an_invalid_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(LEAKY_STRATEGY.replace("period: 1", "period: 0"), encoding="utf-8")
    assert_bad_input(run(str(path)), "broken.yaml: indicators[1].params.period (line 7)")
    path.write_text("name: [unclosed\n", encoding="utf-8")
    assert_bad_input(run(str(path)), "broken.yaml line 2, column 1: invalid YAML")


def test_a_series_shorter_than_the_warm_up_exits_2() -> None:
    bundled = MarketData(load_settings().data_dir).load("SP500")
    MarketData(load_settings().data_dir).import_text(
        to_csv(bundled.slice(0, 20)), "tiny.csv", "TINY", "1d"
    )
    assert_bad_input(run("trend_momentum", "--symbol", "TINY"), "still warming up")


def test_points_out_of_range_is_a_usage_error() -> None:
    result = run("rsi_mean_reversion", "--points", "0")
    assert result.exit_code == 2
    assert "--points" in result.stderr
