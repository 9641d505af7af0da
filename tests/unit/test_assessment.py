"""The assessment rules: each verdict boundary, readable reasons, and broken numbers."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktrdr.agents.design.assessment import Assessment, AssessmentInput, Thresholds, assess

SOLID = AssessmentInput(
    sharpe_ratio=1.3,
    total_return=0.42,
    max_drawdown=0.12,
    win_rate=0.58,
    num_trades=24,
    profit_factor=1.6,
    exposure=0.5,
    val_accuracy=0.55,
    baseline_accuracy=0.5,
)


def judged(**changes: float | int | None) -> Assessment:
    return assess(dataclasses.replace(SOLID, **changes))  # type: ignore[arg-type]


def mentions(result: Assessment, needle: str) -> bool:
    return any(needle in reason for reason in result.reasons)


def test_a_solid_backtest_is_promising_and_says_why() -> None:
    result = assess(SOLID)
    assert result.verdict == "promising"
    for needle in (
        "Sharpe 1.30 ≥ 1.0",
        "max drawdown 12% ≤ 25%",
        "24 trades ≥ 10",
        "profit factor 1.60 ≥ 1.2",
        "validation accuracy 55.0% beats the 50.0% majority-class baseline",
        "total return +42.0%, win rate 58.0%",
    ):
        assert mentions(result, needle), (needle, result.reasons)


@pytest.mark.parametrize(
    ("changes", "verdict", "needle"),
    [
        # Sharpe: >= 1.0 promising, [0.25, 1.0) neutral, < 0.25 poor
        ({"sharpe_ratio": 1.0}, "promising", "Sharpe 1.00 ≥ 1.0"),
        ({"sharpe_ratio": 0.999}, "neutral", "Sharpe 0.999 is below 1.0"),
        ({"sharpe_ratio": 0.6}, "neutral", "Sharpe 0.60 is below 1.0"),
        ({"sharpe_ratio": 0.25}, "neutral", "Sharpe 0.25 is below 1.0"),
        ({"sharpe_ratio": 0.2499}, "poor", "Sharpe 0.2499 < 0.25"),
        ({"sharpe_ratio": -0.8}, "poor", "Sharpe -0.80 < 0.25"),
        # Max drawdown: <= 25% promising, (25%, 40%] neutral, > 40% poor
        ({"max_drawdown": 0.25}, "promising", "max drawdown 25% ≤ 25%"),
        ({"max_drawdown": 0.254}, "neutral", "max drawdown 25.4% is above 25%"),
        ({"max_drawdown": 0.40}, "neutral", "max drawdown 40% is above 25%"),
        ({"max_drawdown": 0.45}, "poor", "max drawdown 45% > 40%"),
        # Trades: >= 10 promising, [3, 10) neutral, < 3 poor
        ({"num_trades": 10}, "promising", "10 trades ≥ 10"),
        ({"num_trades": 9}, "neutral", "only 9 trades: want at least 10"),
        ({"num_trades": 3}, "neutral", "only 3 trades"),
        ({"num_trades": 2}, "poor", "only 2 trades: too few to judge"),
        ({"num_trades": 1}, "poor", "only 1 trade: too few to judge"),
        # Profit factor: >= 1.2 promising, below neutral; None means no losing trade
        ({"profit_factor": 1.2}, "promising", "profit factor 1.20 ≥ 1.2"),
        ({"profit_factor": 1.1}, "neutral", "profit factor 1.10 is below 1.2"),
        ({"profit_factor": None}, "promising", "no losing trade"),
        ({"profit_factor": math.inf}, "promising", "no losing trade"),
        # The model must beat the majority class when both accuracies are known
        ({"val_accuracy": 0.5}, "neutral", "does not beat the 50.0% majority-class baseline"),
        ({"baseline_accuracy": None}, "promising", "no baseline to compare with"),
    ],
)
def test_verdict_boundaries(
    changes: dict[str, float | int | None], verdict: str, needle: str
) -> None:
    result = judged(**changes)
    assert result.verdict == verdict, result.reasons
    assert mentions(result, needle), result.reasons


def test_hard_failures_come_first_then_shortfalls_then_strengths() -> None:
    result = judged(sharpe_ratio=0.1, profit_factor=1.0)
    assert result.verdict == "poor"
    assert result.reasons[0].startswith("Sharpe 0.10 < 0.25")
    assert result.reasons[1].startswith("profit factor 1.00 is below 1.2")
    assert result.reasons[-1].startswith("total return")


def test_every_failure_is_listed_not_just_the_first() -> None:
    result = judged(sharpe_ratio=0.0, max_drawdown=0.6, num_trades=0, profit_factor=None)
    assert result.verdict == "poor"
    assert mentions(result, "Sharpe 0.00 < 0.25")
    assert mentions(result, "max drawdown 60% > 40%")
    assert mentions(result, "only 0 trades")
    assert not mentions(result, "no losing trade")  # no trades is not a perfect record


def test_a_signed_drawdown_is_read_as_its_size() -> None:
    assert judged(max_drawdown=-0.45).verdict == "poor"


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("sharpe_ratio", math.nan, "Sharpe ratio is nan"),
        ("sharpe_ratio", math.inf, "Sharpe ratio is inf"),
        ("total_return", -math.inf, "total return is -inf"),
        ("max_drawdown", math.nan, "max drawdown is nan"),
        ("win_rate", math.nan, "win rate is nan"),
        ("profit_factor", math.nan, "profit factor is nan"),
        ("exposure", math.nan, "exposure is nan"),
        ("val_accuracy", math.nan, "validation accuracy is nan"),
    ],
)
def test_non_finite_numbers_make_it_poor_with_a_reason(
    field: str, value: float, label: str
) -> None:
    result = judged(**{field: value})
    assert result.verdict == "poor"
    assert result.score == 0.0
    assert mentions(result, "non-finite"), result.reasons
    assert mentions(result, label), result.reasons


def test_the_score_ranks_better_results_higher() -> None:
    scores = [judged(sharpe_ratio=s).score for s in (-1.0, 0.2, 0.8, 1.5)]
    assert scores == sorted(scores)
    assert judged(max_drawdown=0.1).score > judged(max_drawdown=0.35).score
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_custom_thresholds_change_the_rules_and_the_words() -> None:
    strict = Thresholds(promising_sharpe=1.5)
    result = assess(SOLID, strict)
    assert result.verdict == "neutral"
    assert mentions(result, "Sharpe 1.30 is below 1.5")


finite_or_not = st.floats(allow_nan=True, allow_infinity=True)


@given(
    sharpe=finite_or_not,
    total=finite_or_not,
    drawdown=finite_or_not,
    win=finite_or_not,
    trades=st.integers(min_value=0, max_value=100_000),
    pf=st.none() | finite_or_not,
    exposure=finite_or_not,
    val=st.none() | finite_or_not,
    base=st.none() | finite_or_not,
)
def test_assess_never_crashes(
    sharpe: float,
    total: float,
    drawdown: float,
    win: float,
    trades: int,
    pf: float | None,
    exposure: float,
    val: float | None,
    base: float | None,
) -> None:
    result = assess(AssessmentInput(sharpe, total, drawdown, win, trades, pf, exposure, val, base))
    assert result.verdict in ("promising", "neutral", "poor")
    assert result.reasons and all(isinstance(r, str) and r for r in result.reasons)
    assert 0.0 <= result.score <= 1.0


def test_promising_also_needs_to_beat_buy_and_hold_on_the_same_bars() -> None:
    beaten = judged(benchmark_sharpe=0.9, benchmark_return=0.31)
    assert beaten.verdict == "promising"
    assert mentions(beaten, "Sharpe 1.30 beats buy-and-hold on the same bars (Sharpe 0.90")
    assert mentions(beaten, "return +31.0%")

    lagging = judged(benchmark_sharpe=1.45, benchmark_return=0.6)
    assert lagging.verdict == "neutral"
    assert mentions(lagging, "Sharpe 1.30 does not beat buy-and-hold on the same bars")

    tie = judged(benchmark_sharpe=1.3)
    assert tie.verdict == "neutral"  # equal is not better
    assert judged(benchmark_sharpe=None).verdict == "promising"  # unknown: not held against it
    assert judged(benchmark_sharpe=math.nan).verdict == "poor"  # broken numbers are never fine


@given(
    sharpe=st.floats(-3, 3),
    drawdown=st.floats(0, 0.8),
    trades=st.integers(0, 60),
    exposure=st.floats(0, 1),
)
def test_each_reason_carries_its_outcome_and_the_verdict_follows_them(
    sharpe: float, drawdown: float, trades: int, exposure: float
) -> None:
    """The page and the CLI mark each reason ✓/✗ from ``outcomes``, never from its wording:
    one outcome per reason, the recap last, and the verdict agrees with the failures."""
    result = judged(
        sharpe_ratio=sharpe, max_drawdown=drawdown, num_trades=trades, exposure=exposure
    )
    assert len(result.outcomes) == len(result.reasons)
    assert result.outcomes[-1] == "recap" and "recap" not in result.outcomes[:-1]
    failed = [r for r, o in zip(result.reasons, result.outcomes, strict=True) if o == "failed"]
    assert (result.verdict == "promising") == (not failed)
    if sharpe < 0.25:
        assert any(r.startswith("Sharpe") for r in failed), result.reasons


def test_a_tiny_share_of_time_in_the_market_does_not_read_zero() -> None:
    recap = judged(exposure=0.004, win_rate=0.5).reasons[-1]
    assert "in the market 0.4% of the time" in recap, recap
    recap = judged(exposure=0.0002).reasons[-1]
    assert "in the market 0.02% of the time" in recap, recap
    assert "in the market 0.0% of the time" in judged(exposure=0.0).reasons[-1]
