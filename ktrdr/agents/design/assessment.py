"""The assessment: a verdict on a backtested strategy, with the reasons in plain numbers.

Rules are explicit thresholds so a researcher can see exactly why a verdict was given:
promising needs every bar cleared; any hard failure makes it poor; the rest is neutral.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["promising", "neutral", "poor"]

PROMISING_SHARPE = 1.0
PROMISING_MAX_DD = 0.25
PROMISING_TRADES = 10
PROMISING_PROFIT_FACTOR = 1.2
POOR_SHARPE = 0.25
POOR_MAX_DD = 0.40
POOR_TRADES = 3


@dataclass(frozen=True)
class AssessmentInput:
    sharpe_ratio: float
    total_return: float
    max_drawdown: float
    win_rate: float
    num_trades: int
    profit_factor: float | None
    exposure: float
    val_accuracy: float | None = None
    baseline_accuracy: float | None = None


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0


def _bad_number(value: float | None) -> bool:
    return value is not None and not math.isfinite(value)


def assess(inp: AssessmentInput) -> Assessment:
    numbers = (inp.sharpe_ratio, inp.total_return, inp.max_drawdown, inp.win_rate, inp.exposure)
    if any(_bad_number(v) for v in numbers) or _bad_number(inp.profit_factor):
        return Assessment("poor", ["The backtest produced non-finite metrics"], 0.0)

    good: list[str] = []
    bad: list[str] = []
    fatal: list[str] = []

    if inp.sharpe_ratio >= PROMISING_SHARPE:
        good.append(f"Sharpe {inp.sharpe_ratio:.2f} ≥ {PROMISING_SHARPE}")
    elif inp.sharpe_ratio < POOR_SHARPE:
        fatal.append(f"Sharpe {inp.sharpe_ratio:.2f} < {POOR_SHARPE}: no reward for the risk")
    else:
        bad.append(f"Sharpe {inp.sharpe_ratio:.2f} is below {PROMISING_SHARPE}")

    dd = inp.max_drawdown
    if dd > POOR_MAX_DD:
        fatal.append(f"max drawdown {dd:.0%} > {POOR_MAX_DD:.0%}")
    elif dd <= PROMISING_MAX_DD:
        good.append(f"max drawdown {dd:.0%} ≤ {PROMISING_MAX_DD:.0%}")
    else:
        bad.append(f"max drawdown {dd:.0%} is above {PROMISING_MAX_DD:.0%}")

    if inp.num_trades < POOR_TRADES:
        fatal.append(f"only {inp.num_trades} trades: too few to judge")
    elif inp.num_trades >= PROMISING_TRADES:
        good.append(f"{inp.num_trades} trades")
    else:
        bad.append(f"only {inp.num_trades} trades (want ≥ {PROMISING_TRADES})")

    pf = inp.profit_factor
    if pf is None:
        if inp.num_trades > 0:
            good.append("no losing trades")
    elif pf >= PROMISING_PROFIT_FACTOR:
        good.append(f"profit factor {pf:.2f} ≥ {PROMISING_PROFIT_FACTOR}")
    else:
        bad.append(f"profit factor {pf:.2f} is below {PROMISING_PROFIT_FACTOR}")

    if inp.val_accuracy is not None and inp.baseline_accuracy is not None:
        edge = inp.val_accuracy - inp.baseline_accuracy
        word = "above" if edge > 0 else "not above"
        note = (
            f"validation accuracy {inp.val_accuracy:.0%} is {word} the "
            f"{inp.baseline_accuracy:.0%} majority-class baseline"
        )
        (good if edge > 0 else bad).append(note)

    verdict: Verdict = "poor" if fatal else ("neutral" if bad else "promising")
    score = max(0.0, min(1.0, 0.5 + inp.sharpe_ratio / 4 - inp.max_drawdown))
    reasons = fatal + bad + good
    summary = f"total return {inp.total_return:+.1%}, win rate {inp.win_rate:.0%}"
    return Assessment(verdict, [*reasons, summary], round(score, 3))
