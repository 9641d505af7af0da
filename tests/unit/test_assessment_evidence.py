"""The verdict reads the statistics that count every try: promising needs a deflated
Sharpe of at least 0.95 and a holdout excess-return interval above zero; each failed test
is named in words; a high PBO is a caution, an overfitted final training a shortfall."""

from __future__ import annotations

from dataclasses import replace

from ktrdr.agents.design.assessment import DEFAULT_THRESHOLDS, Evidence, assess
from tests.unit.test_assessment import SOLID

CONVINCING = Evidence(
    deflated_sharpe=0.99,
    trials=16,
    excess_return=0.12,
    excess_low=0.03,
    excess_high=0.21,
    pbo=0.1,
    overfit_ratio=1.05,
    best_epoch=12,
    stopped_epoch=22,
)


def judged(**changes: object) -> tuple[str, list[str]]:
    result = assess(replace(SOLID, evidence=replace(CONVINCING, **changes)))  # type: ignore[arg-type]
    return result.verdict, result.reasons


def test_convincing_evidence_keeps_a_solid_backtest_promising() -> None:
    verdict, reasons = judged()
    assert verdict == "promising", reasons
    assert any("deflated Sharpe 0.99 (best of 16 tries)" in r for r in reasons)
    assert CONVINCING.significant(DEFAULT_THRESHOLDS) is True


def test_a_low_deflated_sharpe_says_not_significant_and_how_many_tries() -> None:
    verdict, reasons = judged(deflated_sharpe=0.62)
    assert verdict == "neutral"
    assert any(r.startswith("not significant: deflated Sharpe 0.62 (best of 16") for r in reasons)
    assert replace(CONVINCING, deflated_sharpe=0.62).significant(DEFAULT_THRESHOLDS) is False


def test_an_interval_that_reaches_zero_is_named() -> None:
    verdict, reasons = judged(excess_low=-0.01)
    assert verdict == "neutral"
    assert any("includes zero or less" in r and "-1.0% to +21.0%" in r for r in reasons)


def test_the_threshold_is_inclusive_for_the_deflated_sharpe_and_strict_for_the_interval() -> None:
    assert judged(deflated_sharpe=0.95)[0] == "promising"
    assert judged(excess_low=0.0)[0] == "neutral"


def test_an_overfitted_final_training_is_a_shortfall() -> None:
    verdict, reasons = judged(overfit_ratio=1.8, best_epoch=7)
    assert verdict == "neutral"
    assert any("1.80× its best (best at epoch 7)" in r for r in reasons)


def test_a_high_pbo_is_a_caution_not_a_shortfall() -> None:
    verdict, reasons = judged(pbo=0.7)
    assert verdict == "promising"
    assert any(r.startswith("caution: probability of backtest overfitting 0.70") for r in reasons)


def test_unmeasured_evidence_is_not_judged() -> None:
    verdict, reasons = judged(deflated_sharpe=None, excess_low=None, excess_high=None, pbo=None)
    assert verdict == "promising"
    assert not any("deflated" in r or "holdout" in r for r in reasons)
    assert Evidence().significant(DEFAULT_THRESHOLDS) is None


def test_a_poor_backtest_stays_poor_whatever_the_evidence() -> None:
    result = assess(replace(SOLID, sharpe_ratio=0.1, evidence=CONVINCING))
    assert result.verdict == "poor"
