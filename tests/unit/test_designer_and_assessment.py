"""The built-in designer (seeded, varied, always valid) and the assessment rules."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ktrdr.agents.design.assessment import AssessmentInput, assess
from ktrdr.agents.design.base import DesignRequest
from ktrdr.agents.design.builtin import BuiltinDesigner
from ktrdr.agents.design.llm import LlmDesigner, make_designer
from ktrdr.data.market import MarketData
from ktrdr.errors import ConfigurationError, InvalidRequestError
from ktrdr.indicators import compute_features
from ktrdr.operations.cancellation import CancellationToken

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def test_same_seed_same_design_and_readable_names() -> None:
    a = BuiltinDesigner().design(DesignRequest(seed=42, now=NOW), CancellationToken())
    b = BuiltinDesigner().design(DesignRequest(seed=42, now=NOW), CancellationToken())
    assert a == b
    family = a.name.rsplit("_", 2)[0]
    assert a.name == f"{family}_20261125_42"


def test_designs_vary_and_are_all_usable_on_real_data(tmp_path: Path) -> None:
    bars = MarketData(tmp_path).load("SP500", "1d")
    families = set()
    for seed in range(50):
        strategy = BuiltinDesigner().design(DesignRequest(seed=seed, now=NOW), CancellationToken())
        families.add(strategy.name.rsplit("_", 2)[0])
        features = compute_features(strategy, bars)
        assert features.valid_from < 300
        assert features.values.shape[1] >= 3
    assert len(families) >= 4


def test_overrides_are_honoured() -> None:
    s = BuiltinDesigner().design(
        DesignRequest(seed=1, symbol="nasdaq", timeframe="1d", epochs=7, now=NOW),
        CancellationToken(),
    )
    assert (s.data.symbol, s.data.timeframe, s.model.epochs) == ("NASDAQ", "1d", 7)


def test_make_designer_choices() -> None:
    assert isinstance(make_designer(None, env={}), BuiltinDesigner)
    with pytest.raises(ConfigurationError) as no_key:
        make_designer("haiku", env={})
    assert "ANTHROPIC_API_KEY" in no_key.value.message
    with pytest.raises(InvalidRequestError):
        make_designer("gpt", env={"ANTHROPIC_API_KEY": "k"})
    llm = make_designer("opus", env={"ANTHROPIC_API_KEY": "k", "KTRDR_LLM_MODEL_OPUS": "my-opus"})
    assert isinstance(llm, LlmDesigner) and llm.model_id == "my-opus"


def _inp(**kw: float | int | None) -> AssessmentInput:
    base: dict[str, float | int | None] = {
        "sharpe_ratio": 1.3,
        "total_return": 0.4,
        "max_drawdown": 0.12,
        "win_rate": 0.58,
        "num_trades": 24,
        "profit_factor": 1.6,
        "exposure": 0.5,
        "val_accuracy": 0.55,
        "baseline_accuracy": 0.5,
    }
    base.update(kw)
    return AssessmentInput(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "verdict", "needle"),
    [
        ({}, "promising", "Sharpe 1.30 ≥ 1.0"),
        ({"sharpe_ratio": 0.6}, "neutral", "Sharpe 0.60 is below 1.0"),
        ({"profit_factor": 1.1}, "neutral", "profit factor 1.10"),
        ({"num_trades": 5}, "neutral", "only 5 trades"),
        ({"max_drawdown": 0.3}, "neutral", "max drawdown 30%"),
        ({"sharpe_ratio": 0.1}, "poor", "Sharpe 0.10 < 0.25"),
        ({"max_drawdown": 0.45}, "poor", "max drawdown 45% > 40%"),
        ({"num_trades": 2}, "poor", "only 2 trades: too few to judge"),
        ({"sharpe_ratio": math.nan}, "poor", "non-finite"),
    ],
)
def test_assessment_verdicts_and_reasons(
    changes: dict[str, float], verdict: str, needle: str
) -> None:
    result = assess(_inp(**changes))
    assert result.verdict == verdict
    assert any(needle in reason for reason in result.reasons), result.reasons
    assert 0.0 <= result.score <= 1.0
