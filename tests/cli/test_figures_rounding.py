"""Figures a person reads: a half-percent drawdown is not "0%", and a designed strategy's
YAML carries no float noise (55.699999999999996). The YAML test runs the real command
against a real backend and a real research cycle."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ktrdr.cli.views.figures import percent, readable_floats
from ktrdr.cli.views.outcomes import backtest_summary, research_summary
from ktrdr.contract.results import BacktestSummary, ResearchCycleSummary, TradingMetrics
from ktrdr.strategies.loader import dump_strategy, load_strategy
from ktrdr.strategies.models import StrategyConfig
from tests.support.live_backend import LiveBackend, run_ktrdr


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.005, "0.5%"),
        (0.046, "4.6%"),
        (0.08, "8%"),
        (0.12, "12%"),
        (0.58, "58%"),
        (0.0996, "10%"),
        (0, "0%"),
    ],
)
def test_percent_keeps_two_significant_digits(value: float, shown: str) -> None:
    assert percent(value) == shown
    assert percent(value, sign="+") == ("+" + shown)


def test_a_half_percent_drawdown_reads_half_a_percent() -> None:
    cycle = ResearchCycleSummary(sharpe_ratio=1.2, win_rate=0.55, max_drawdown=0.005)
    lines = [text for text, _ in research_summary(cycle)]
    assert "Sharpe: 1.20 | Win Rate: 55% | Max DD: 0.5%" in lines, lines
    backtest = backtest_summary(BacktestSummary(metrics=TradingMetrics(max_drawdown=0.0049)))
    assert "Max DD: 0.5%" in backtest[0][0]


def test_readable_floats_cuts_noise_and_nothing_else() -> None:
    noisy = {"points": [0, 25.5, 55.699999999999996], "k": 0.1 + 0.2, "name": "x", "n": 3}
    assert readable_floats(noisy) == {"points": [0, 25.5, 55.7], "k": 0.3, "name": "x", "n": 3}
    assert readable_floats(1.23456789012345e-7) == 1.23456789012e-7


def test_agent_strategy_prints_no_float_noise(backend: LiveBackend, tmp_path: Path) -> None:
    strategy = load_strategy("rsi_mean_reversion").model_dump(mode="json")
    strategy["name"] = "noisy"
    strategy["model"]["epochs"] = 3
    strategy["fuzzy"][0]["sets"][1]["points"] = [30, 55.699999999999996, 70]
    path = tmp_path / "noisy.yaml"
    path.write_text(dump_strategy(StrategyConfig.model_validate(strategy)))
    assert "55.699999999999996" in path.read_text()  # the noise is really there to start with

    cycle = _run(backend, "agent", "trigger", "--strategy", str(path), "-f", "--json")
    assert cycle.returncode == 0, cycle.stderr
    cycle_id = json.loads(cycle.stdout)["operation_id"]
    shown = _run(backend, "agent", "strategy", cycle_id)
    assert shown.returncode == 0, shown.stderr
    assert "points: [30, 55.7, 70]" in shown.stdout
    assert "55.699999" not in shown.stdout


def _run(backend: LiveBackend, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ktrdr(backend.env, *args, timeout=300)
