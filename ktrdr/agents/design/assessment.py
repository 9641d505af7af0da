"""The assessment: a verdict on a backtested strategy, with the reasons in plain numbers.

The rules are explicit thresholds so a researcher can see exactly why a verdict was given:

- **poor** when any hard limit is broken (Sharpe below 0.25, drawdown above 40 %, fewer
  than 3 trades) or a metric is not a finite number;
- **promising** when every bar is cleared (Sharpe at least 1.0, drawdown at most 25 %, at
  least 10 trades, profit factor at least 1.2, the model beating the majority-class
  baseline on validation when both accuracies are known, and a Sharpe above buying and
  holding the same bars when that benchmark is known);
- **neutral** otherwise.

A walk-forward cycle also brings ``Evidence``, the statistics that count every try; then
**promising** further requires a deflated Sharpe of at least 0.95 (the edge is unlikely to
be the luck of the best of N tries) and a holdout excess return over buy-and-hold whose 95 %
interval lies above zero, and a final training whose validation loss did not end far above
its best (overfitting). Each failed test is a reason in words. A probability of backtest
overfitting above one half is a caution: it says the choice among candidates was no better
than chance, which candidates that are all alike also give.

Every reason is a sentence with the numbers that decided it. The score (0-1) only ranks
strategies with the same verdict; the verdict never depends on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal

Verdict = Literal["promising", "neutral", "poor"]
# What each reason says of its test: failed (a hard limit or a shortfall), a caution, passed,
# or the closing recap of the figures (no test).
ReasonOutcome = Literal["failed", "caution", "passed", "recap"]


@dataclass(frozen=True)
class AssessmentInput:
    """Backtest metrics (fractions, not percentages) and, when known, training accuracy."""

    sharpe_ratio: float
    total_return: float
    max_drawdown: float  # peak-to-trough fall, 0.12 = 12 %
    win_rate: float
    num_trades: int
    profit_factor: float | None  # None: no losing trade, so no ratio
    exposure: float  # fraction of bars holding a position
    val_accuracy: float | None = None
    baseline_accuracy: float | None = None  # majority-class accuracy on the validation set
    # Buy-and-hold over the same bars with the same costs, when known.
    benchmark_sharpe: float | None = None
    benchmark_return: float | None = None
    evidence: Evidence | None = None


@dataclass(frozen=True)
class Evidence:
    """What a walk-forward cycle knows beyond one backtest (None: not measured)."""

    deflated_sharpe: float | None = None  # probability, 0-1
    trials: int | None = None
    excess_return: float | None = None  # holdout, over buy-and-hold
    excess_low: float | None = None
    excess_high: float | None = None
    confidence: float = 0.95
    pbo: float | None = None
    overfit_ratio: float | None = None  # final validation loss / best
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    def significant(self, t: Thresholds) -> bool | None:
        """The edge passes both tests that count every try (None: not measured)."""
        if self.deflated_sharpe is None or self.excess_low is None:
            return None
        return self.deflated_sharpe >= t.min_deflated_sharpe and self.excess_low > 0


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0
    outcomes: list[ReasonOutcome] = field(default_factory=list)  # one per reason


@dataclass(frozen=True)
class Thresholds:
    promising_sharpe: float = 1.0
    promising_max_drawdown: float = 0.25
    promising_trades: int = 10
    promising_profit_factor: float = 1.2
    poor_sharpe: float = 0.25
    poor_max_drawdown: float = 0.40
    poor_trades: int = 3
    min_deflated_sharpe: float = 0.95
    max_pbo: float = 0.5
    max_overfit_ratio: float = 1.25


DEFAULT_THRESHOLDS = Thresholds()

_LABELS = {
    "sharpe_ratio": "Sharpe ratio",
    "total_return": "total return",
    "max_drawdown": "max drawdown",
    "win_rate": "win rate",
    "num_trades": "number of trades",
    "profit_factor": "profit factor",
    "exposure": "exposure",
    "val_accuracy": "validation accuracy",
    "baseline_accuracy": "baseline accuracy",
    "benchmark_sharpe": "buy-and-hold Sharpe ratio",
    "benchmark_return": "buy-and-hold return",
}


def _non_finite(inp: AssessmentInput) -> list[str]:
    bad = []
    for f in fields(inp):
        if f.name == "evidence":
            continue  # judged on its own, where an unknown figure is simply not judged
        value = getattr(inp, f.name)
        if f.name == "profit_factor" and value == math.inf:
            continue  # an unbounded profit factor just means no losing trade
        if value is not None and not math.isfinite(value):
            bad.append(f"{_LABELS[f.name]} is {value}")
    return bad


@dataclass
class _Findings:
    fatal: list[str] = field(default_factory=list)  # any one makes the verdict poor
    short: list[str] = field(default_factory=list)  # any one keeps it from promising
    caution: list[str] = field(default_factory=list)  # worth reading, changes no verdict
    good: list[str] = field(default_factory=list)


def _judge_at_least(label: str, value: float, promising: float, out: _Findings) -> None:
    """A figure that must reach ``promising``: short of it keeps the verdict from promising."""
    shown, limit = _num(value, promising), _limit(promising)
    if value < promising:
        out.short.append(f"{label} {shown} is below {limit}")
    else:
        out.good.append(f"{label} {shown} ≥ {limit}")


def _judge_sharpe(sharpe: float, t: Thresholds, out: _Findings) -> None:
    if sharpe < t.poor_sharpe:
        shown, limit = _num(sharpe, t.poor_sharpe), _limit(t.poor_sharpe)
        out.fatal.append(f"Sharpe {shown} < {limit}: too little return for the risk taken")
        return
    _judge_at_least("Sharpe", sharpe, t.promising_sharpe, out)


def _judge_drawdown(drawdown: float, t: Thresholds, out: _Findings) -> None:
    if drawdown > t.poor_max_drawdown:
        out.fatal.append(
            f"max drawdown {_pct(drawdown)} > {t.poor_max_drawdown:.0%}: too deep a loss to hold"
        )
    elif drawdown > t.promising_max_drawdown:
        out.short.append(f"max drawdown {_pct(drawdown)} is above {t.promising_max_drawdown:.0%}")
    else:
        out.good.append(f"max drawdown {_pct(drawdown)} ≤ {t.promising_max_drawdown:.0%}")


def _judge_trades(trades: int, t: Thresholds, out: _Findings) -> None:
    word = "trade" if trades == 1 else "trades"
    if trades < t.poor_trades:
        out.fatal.append(f"only {trades} {word}: too few to judge")
    elif trades < t.promising_trades:
        out.short.append(f"only {trades} {word}: want at least {t.promising_trades} to trust it")
    else:
        out.good.append(f"{trades} {word} ≥ {t.promising_trades}: enough to judge")


def _judge_profit_factor(pf: float | None, trades: int, t: Thresholds, out: _Findings) -> None:
    if pf is None or pf == math.inf:
        if trades > 0:
            out.good.append("no losing trade, so the profit factor is unbounded")
        return
    _judge_at_least("profit factor", pf, t.promising_profit_factor, out)


def _judge_model(inp: AssessmentInput, out: _Findings) -> None:
    val, base = inp.val_accuracy, inp.baseline_accuracy
    if val is None:
        return
    if base is None:
        out.good.append(f"validation accuracy {val:.1%} (no baseline to compare with)")
    elif val > base:
        out.good.append(
            f"validation accuracy {val:.1%} beats the {base:.1%} majority-class baseline"
        )
    else:
        out.short.append(
            f"validation accuracy {val:.1%} does not beat the {base:.1%} majority-class "
            "baseline: the model may have learned nothing"
        )


def _judge_benchmark(inp: AssessmentInput, out: _Findings) -> None:
    bench = inp.benchmark_sharpe
    if bench is None:
        return
    held = "" if inp.benchmark_return is None else f", return {inp.benchmark_return:+.1%}"
    if inp.sharpe_ratio > bench:
        out.good.append(
            f"Sharpe {inp.sharpe_ratio:.2f} beats buy-and-hold on the same bars "
            f"(Sharpe {bench:.2f}{held})"
        )
    else:
        out.short.append(
            f"Sharpe {inp.sharpe_ratio:.2f} does not beat buy-and-hold on the same bars "
            f"(Sharpe {bench:.2f}{held})"
        )


def _judge_evidence(ev: Evidence, t: Thresholds, out: _Findings) -> None:
    if ev.deflated_sharpe is not None:
        tries = f"best of {ev.trials} tries" if ev.trials else "one try"
        shown = f"deflated Sharpe {ev.deflated_sharpe:.2f} ({tries})"
        if ev.deflated_sharpe >= t.min_deflated_sharpe:
            out.good.append(f"{shown} ≥ {t.min_deflated_sharpe}: unlikely to be luck")
        else:
            out.short.append(
                f"not significant: {shown} < {t.min_deflated_sharpe}; the validation "
                "Sharpe could be the luck of the best try"
            )
    if ev.excess_low is not None and ev.excess_high is not None:
        estimate = ev.excess_return if ev.excess_return is not None else math.nan
        shown = (
            f"holdout excess return over buy-and-hold {estimate:+.1%} "
            f"({ev.confidence:.0%} interval {ev.excess_low:+.1%} to {ev.excess_high:+.1%})"
        )
        if ev.excess_low > 0:
            out.good.append(f"{shown}: above zero")
        else:
            out.short.append(f"{shown} includes zero or less: no proven edge on the holdout")
    if ev.pbo is not None:
        if ev.pbo > t.max_pbo:
            out.caution.append(
                f"caution: probability of backtest overfitting {ev.pbo:.2f} > {t.max_pbo}: "
                "the candidate that looks best in sample is usually below the median out of "
                "sample (candidates that are all alike give this too)"
            )
        else:
            out.good.append(f"probability of backtest overfitting {ev.pbo:.2f} ≤ {t.max_pbo}")
    if ev.overfit_ratio is not None and ev.overfit_ratio > t.max_overfit_ratio:
        where = f" (best at epoch {ev.best_epoch})" if ev.best_epoch else ""
        out.short.append(
            f"the final training's validation loss ended {ev.overfit_ratio:.2f}× its "
            f"best{where}: the model overfitted its training data"
        )


def _num(x: float, limit: float) -> str:
    """Two decimals, or more when two would round onto the limit (0.999 is not 1.00)."""
    text = f"{x:.2f}"
    return f"{x:.4g}" if x != limit and text == f"{limit:.2f}" else text


def _limit(x: float) -> str:
    """A threshold as written in the rules: 1.0, 1.2, 0.25."""
    return f"{x:.1f}" if round(x, 1) == x else f"{x:g}"


def _pct(x: float) -> str:
    """A fraction as a percentage: whole when exact (30%), else one decimal (25.4%)."""
    percent = x * 100
    whole = math.isfinite(percent) and math.isclose(percent, round(percent), abs_tol=1e-9)
    return f"{x:.0%}" if whole else f"{x:.1%}"


def _share(x: float) -> str:
    """A share of bars or trades as the page writes it: one decimal, and two significant
    digits when that would read 0.0 % for a share that is not zero (0.042 %)."""
    percent = x * 100
    if percent != 0 and abs(percent) < 0.05:
        return f"{percent:.2g}%"
    return f"{percent:.1f}%"


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def _score(inp: AssessmentInput, drawdown: float) -> float:
    """A 0-1 blend: Sharpe 50 %, drawdown 30 %, profit factor 10 %, trade count 10 %."""
    pf = inp.profit_factor
    pf_part = 1.0 if pf is None or pf == math.inf else _clamp(pf - 1.0)
    if inp.num_trades == 0:
        pf_part = 0.0
    return round(
        0.5 * _clamp(inp.sharpe_ratio / 2.0)
        + 0.3 * _clamp(1.0 - drawdown / 0.5)
        + 0.1 * pf_part
        + 0.1 * _clamp(inp.num_trades / 20.0),
        3,
    )


def assess(inp: AssessmentInput, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Assessment:
    """The verdict, its reasons (hard failures first, then shortfalls, then strengths), a score."""
    broken = _non_finite(inp)
    if broken:
        return Assessment(
            "poor",
            [f"the backtest produced non-finite metrics ({'; '.join(broken)}): cannot judge it"],
            0.0,
            ["failed"],
        )
    # Drawdown is a positive fraction by convention; a signed one (-0.12) means the same.
    drawdown = abs(inp.max_drawdown)
    findings = _Findings()
    _judge_sharpe(inp.sharpe_ratio, thresholds, findings)
    _judge_drawdown(drawdown, thresholds, findings)
    _judge_trades(inp.num_trades, thresholds, findings)
    _judge_profit_factor(inp.profit_factor, inp.num_trades, thresholds, findings)
    _judge_model(inp, findings)
    _judge_benchmark(inp, findings)
    if inp.evidence is not None:
        _judge_evidence(inp.evidence, thresholds, findings)

    verdict: Verdict = "poor" if findings.fatal else "neutral" if findings.short else "promising"
    summary = (
        f"total return {inp.total_return:+.1%}, win rate {_share(inp.win_rate)}, "
        f"in the market {_share(inp.exposure)} of the time"
    )
    reasons = findings.fatal + findings.short + findings.caution + findings.good
    failed: list[ReasonOutcome] = ["failed"]
    caution: list[ReasonOutcome] = ["caution"]
    passed: list[ReasonOutcome] = ["passed"]
    outcomes: list[ReasonOutcome] = [
        *failed * (len(findings.fatal) + len(findings.short)),
        *caution * len(findings.caution),
        *passed * len(findings.good),
        "recap",
    ]
    return Assessment(verdict, [*reasons, summary], _score(inp, drawdown), outcomes)
