"""The built-in designer: offline, reproducible for a seed, varied across seeds.

Each family is a research idea (momentum, mean reversion, trend, volatility, MACD). The
seed picks a family, then draws its indicator periods, fuzzy break points, labels,
network and trading mode from ranges that make sense together: fuzzy sets are placed
relative to how large the indicator's values typically are for the chosen periods, and
the label threshold relative to how far prices typically move over the label horizon.
All randomness comes from one ``random.Random(seed)``, never from global state.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ktrdr.agents.design.base import DesignRequest
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.strategies.models import StrategyConfig

Spec = dict[str, Any]

DEFAULT_SYMBOL = "SP500"
DEFAULT_TIMEFRAME = "1d"
EPOCHS_RANGE = (40, 120)

# Typical size of one daily move of a broad equity index (SP500 / NASDAQ 1999-2018). The
# scales below are rough one-sigma sizes of each indicator derived from it, so fuzzy sets
# cover where values actually fall instead of sitting empty in a tail.
_DAILY_MOVE = 0.011
# Outer edge of open-ended shoulder sets: finite because JSON has no infinity, and far
# beyond any value these indicators reach on real prices.
_FAR = 10.0


def _round(value: float, digits: int = 3) -> float:
    """``value`` to ``digits`` significant digits, so designs read like a human wrote them."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _move_scale(bars: int) -> float:
    """Typical size of a return over ``bars`` bars (random-walk growth with the horizon)."""
    return _DAILY_MOVE * math.sqrt(bars)


def _sma_cross_scale(fast: int, slow: int) -> float:
    return 0.0045 * math.sqrt(slow - fast)


def _ema_cross_scale(fast: int, slow: int) -> float:
    return 0.003 * math.sqrt(slow - fast)


def _macd_scale(slow: int) -> float:
    return 0.00012 * slow


# ----------------------------------------------------------------------------- fuzzy sets


def _tri(name: str, a: float, b: float, c: float) -> Spec:
    return {"name": name, "shape": "triangular", "points": [a, b, c]}


def _trap(name: str, a: float, b: float, c: float, d: float) -> Spec:
    return {"name": name, "shape": "trapezoid", "points": [a, b, c, d]}


def _signed_sets(r: random.Random, scale: float) -> list[Spec]:
    """Sets for an indicator centred on zero: down / flat / up, sometimes with strong ends."""
    w = _round(scale * r.uniform(0.6, 1.2))
    if r.random() < 0.6:
        return [
            _trap("down", -_FAR, -_FAR, -w, 0.0),
            _tri("flat", -w, 0.0, w),
            _trap("up", 0.0, w, _FAR, _FAR),
        ]
    w2 = _round(2 * w)
    return [
        _trap("strong_down", -_FAR, -_FAR, -w2, -w),
        _tri("down", -w2, -w, 0.0),
        _tri("flat", -w, 0.0, w),
        _tri("up", 0.0, w, w2),
        _trap("strong_up", w, w2, _FAR, _FAR),
    ]


def _rsi_sets(r: random.Random, period: int) -> list[Spec]:
    """Oversold / neutral / overbought on RSI's 0-100 scale; the zones need not be symmetric.

    A longer RSI strays less from 50 (roughly 50 / sqrt(period) for one in ten bars), so
    its zones sit closer to the middle.
    """
    reach = 50 / math.sqrt(period)
    low = round(50 - reach * r.uniform(0.9, 1.6), 1)
    high = round(50 + reach * r.uniform(0.9, 1.6), 1)
    fade = round(reach * r.uniform(0.4, 0.7), 1)
    return [
        _trap("oversold", 0, 0, low, low + fade),
        _tri("neutral", low, 50, high),
        _trap("overbought", high - fade, high, 100, 100),
    ]


def _band_sets(r: random.Random) -> list[Spec]:
    """Bollinger position: 0 is the lower band, 1 the upper; closes can overshoot both."""
    edge = _round(r.uniform(0.05, 0.2), 2)
    fade = _round(r.uniform(0.15, 0.3), 2)
    return [
        _trap("near_lower", -_FAR, -_FAR, edge, edge + fade),
        _tri("middle", edge, 0.5, 1 - edge),
        _trap("near_upper", 1 - edge - fade, 1 - edge, _FAR, _FAR),
    ]


def _volatility_sets(r: random.Random) -> list[Spec]:
    """ATR as a fraction of price: daily index ATR sits around 1-1.5 %, spiking in crises."""
    typical = _round(r.uniform(0.010, 0.015), 2)
    calm = _round(0.7 * typical)
    busy = _round(1.7 * typical)
    return [
        _trap("calm", 0.0, 0.0, calm, typical),
        _tri("normal", calm, typical, busy),
        _trap("wild", typical, busy, _FAR, _FAR),
    ]


# ----------------------------------------------------------------------------- families


@dataclass(frozen=True)
class _Idea:
    """What a family contributes: its features and the label horizon range it suits."""

    indicators: list[Spec]
    fuzzy: list[Spec]
    horizon: tuple[int, int]


def _indicator(name: str, kind: str, **params: float) -> Spec:
    return {"name": name, "type": kind, "params": params}


def _fuzzy(indicator: str, sets: list[Spec]) -> Spec:
    return {"indicator": indicator, "sets": sets}


def _momentum_breakout(r: random.Random) -> _Idea:
    period = r.randint(10, 60)
    fast = r.randint(5, 20)
    slow = fast * r.randint(3, 5)
    indicators = [
        _indicator("mom", "momentum", period=period),
        _indicator("sma_x", "sma_cross", fast=fast, slow=slow),
        _indicator("atr", "atr", period=r.randint(10, 20)),
    ]
    if r.random() < 0.4:
        indicators.append(_indicator("bb", "bollinger", period=r.randint(15, 30), k=2.0))
    fuzzy = [
        _fuzzy("mom", _signed_sets(r, _move_scale(period))),
        _fuzzy("sma_x", _signed_sets(r, _sma_cross_scale(fast, slow))),
    ]
    return _Idea(indicators, fuzzy, horizon=(5, 20))


def _rsi_mean_reversion(r: random.Random) -> _Idea:
    rsi_period = r.randint(5, 21)
    indicators = [
        _indicator("rsi", "rsi", period=rsi_period),
        _indicator("bb", "bollinger", period=r.randint(15, 30), k=r.choice([1.5, 2.0, 2.5])),
        _indicator("ret", "returns", period=r.randint(1, 3)),
    ]
    fuzzy = [_fuzzy("rsi", _rsi_sets(r, rsi_period)), _fuzzy("bb", _band_sets(r))]
    return _Idea(indicators, fuzzy, horizon=(2, 10))


def _trend_following(r: random.Random) -> _Idea:
    fast = r.randint(8, 30)
    slow = fast * r.randint(2, 4)
    period = r.randint(40, 120)
    indicators = [
        _indicator("ema_x", "ema_cross", fast=fast, slow=slow),
        _indicator("mom", "momentum", period=period),
    ]
    if r.random() < 0.5:
        indicators.append(_indicator("rsi", "rsi", period=r.randint(14, 28)))
    fuzzy = [
        _fuzzy("ema_x", _signed_sets(r, _ema_cross_scale(fast, slow))),
        _fuzzy("mom", _signed_sets(r, _move_scale(period))),
    ]
    return _Idea(indicators, fuzzy, horizon=(10, 30))


def _volatility_squeeze(r: random.Random) -> _Idea:
    period = r.randint(1, 5)
    indicators = [
        _indicator("atr", "atr", period=r.randint(10, 30)),
        _indicator("bb", "bollinger", period=r.randint(15, 30), k=r.choice([1.5, 2.0, 2.5])),
        _indicator("ret", "returns", period=period),
    ]
    fuzzy = [
        _fuzzy("atr", _volatility_sets(r)),
        _fuzzy("bb", _band_sets(r)),
        _fuzzy("ret", _signed_sets(r, _move_scale(period))),
    ]
    return _Idea(indicators, fuzzy, horizon=(3, 15))


def _macd_momentum(r: random.Random) -> _Idea:
    fast = r.randint(6, 15)
    slow = 2 * fast + r.randint(0, 6)
    rsi_period = r.randint(7, 21)
    indicators = [
        _indicator("macd", "macd", fast=fast, slow=slow, signal=r.randint(5, 12)),
        _indicator("rsi", "rsi", period=rsi_period),
        _indicator("ret", "returns", period=r.choice([1, 5, 10])),
    ]
    fuzzy = [
        _fuzzy("macd", _signed_sets(r, _macd_scale(slow))),
        _fuzzy("rsi", _rsi_sets(r, rsi_period)),
    ]
    return _Idea(indicators, fuzzy, horizon=(5, 15))


FAMILIES: dict[str, Callable[[random.Random], _Idea]] = {
    "momentum_breakout": _momentum_breakout,
    "rsi_mean_reversion": _rsi_mean_reversion,
    "trend_following": _trend_following,
    "volatility_squeeze": _volatility_squeeze,
    "macd_momentum": _macd_momentum,
}

_BLURBS = {
    "momentum_breakout": "Momentum breakout: recent strength and a moving-average cross",
    "rsi_mean_reversion": "Mean reversion: stretched RSI and Bollinger position snap back",
    "trend_following": "Trend following: an EMA cross and long momentum ride the trend",
    "volatility_squeeze": "Volatility squeeze: calm markets and band position before a move",
    "macd_momentum": "MACD momentum: the MACD histogram with RSI zones",
}


# ----------------------------------------------------------------------------- the rest


def _labels(r: random.Random, horizon: tuple[int, int]) -> Spec:
    bars = r.randint(*horizon)
    # A fraction of the typical move over the horizon keeps buy/hold/sell all populated.
    return {"horizon": bars, "threshold": _round(_move_scale(bars) * r.uniform(0.3, 0.8), 2)}


def _model(r: random.Random, request: DesignRequest) -> Spec:
    width = r.choice([16, 32, 48, 64])
    layers = [width]
    for _ in range(r.choice([0, 1, 1, 2])):
        layers.append(max(4, layers[-1] // 2))
    # Always drawn, so overriding the epochs changes nothing else about the design.
    epochs = r.randint(*EPOCHS_RANGE)
    return {
        "hidden_layers": layers,
        "epochs": request.epochs if request.epochs is not None else epochs,
        "learning_rate": _round(10 ** r.uniform(-3.5, -2.5), 2),
        "batch_size": r.choice([32, 64, 128]),
        "l2": r.choice([1e-5, 1e-4, 1e-3]),
        "seed": request.seed,
    }


def _describe(family: str, idea: _Idea, labels: Spec, mode: str) -> str:
    parts = [
        f"{spec['type']}({', '.join(f'{k}={v:g}' for k, v in spec['params'].items())})"
        for spec in idea.indicators
    ]
    return (
        f"{_BLURBS[family]}. Indicators: {', '.join(parts)}. Labels: moves beyond "
        f"{labels['threshold']:.2%} over {labels['horizon']} bars; trades {mode}."
    )


class BuiltinDesigner:
    """Designs a strategy from the seed alone: same request, same strategy."""

    name = "builtin"

    def design(self, request: DesignRequest, token: CancellationToken) -> StrategyConfig:
        # Designing takes microseconds; one check is enough to honour an early cancel.
        token.raise_if_cancelled(where="Stopped before designing the strategy")
        r = random.Random(request.seed)
        family = r.choice(sorted(FAMILIES))
        idea = FAMILIES[family](r)
        labels = _labels(r, idea.horizon)
        model = _model(r, request)
        mode = "long_short" if r.random() < 0.3 else "long_flat"
        return StrategyConfig.model_validate(
            {
                "name": f"{family}_{request.now:%Y%m%d}_{request.seed}",
                "description": _describe(family, idea, labels, mode),
                "data": {
                    "symbol": (request.symbol or DEFAULT_SYMBOL).upper(),
                    "timeframe": request.timeframe or DEFAULT_TIMEFRAME,
                },
                "indicators": idea.indicators,
                "fuzzy": idea.fuzzy,
                "labels": labels,
                "model": model,
                "backtest": {"mode": mode},
            }
        )
