"""The built-in designer: offline, reproducible for a seed, varied across seeds.

Each family is a research idea (momentum, mean reversion, trend, volatility, MACD); the
seed picks the family and draws its periods, fuzzy break points, labels and network from
ranges that make sense for each indicator's scale.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ktrdr.agents.design.base import DesignRequest
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.models import utcnow
from ktrdr.strategies.models import StrategyConfig

Spec = dict[str, Any]


def _tri(name: str, a: float, b: float, c: float) -> Spec:
    return {"name": name, "shape": "triangular", "points": [a, b, c]}


def _trap(name: str, a: float, b: float, c: float, d: float) -> Spec:
    return {"name": name, "shape": "trapezoid", "points": [a, b, c, d]}


def _signed_sets(scale: float) -> list[Spec]:
    """Negative / flat / positive sets for an indicator centred on zero."""
    return [
        _trap("neg", -100 * scale, -100 * scale, -scale, 0.0),
        _tri("flat", -scale, 0.0, scale),
        _trap("pos", 0.0, scale, 100 * scale, 100 * scale),
    ]


def _rsi_sets(r: random.Random) -> list[Spec]:
    low = r.choice([25, 30, 35])
    high = 100 - low
    return [
        _trap("low", 0, 0, low, low + 12),
        _tri("neutral", low + 5, 50, high - 5),
        _trap("high", high - 12, high, 100, 100),
    ]


def _momentum_breakout(r: random.Random) -> Spec:
    fast = r.choice([5, 10, 15])
    return {
        "indicators": [
            {"name": "mom", "type": "momentum", "params": {"period": r.choice([10, 20, 40])}},
            {"name": "sma_x", "type": "sma_cross", "params": {"fast": fast, "slow": fast * 4}},
            {"name": "atr", "type": "atr", "params": {"period": 14}},
        ],
        "fuzzy": [
            {"indicator": "mom", "sets": _signed_sets(r.choice([0.02, 0.03, 0.05]))},
            {"indicator": "sma_x", "sets": _signed_sets(r.choice([0.01, 0.02]))},
        ],
    }


def _rsi_mean_reversion(r: random.Random) -> Spec:
    return {
        "indicators": [
            {"name": "rsi", "type": "rsi", "params": {"period": r.choice([7, 10, 14, 21])}},
            {"name": "bb", "type": "bollinger", "params": {"period": 20, "k": r.choice([1.5, 2])}},
            {"name": "ret", "type": "returns", "params": {"period": 1}},
        ],
        "fuzzy": [
            {"indicator": "rsi", "sets": _rsi_sets(r)},
            {
                "indicator": "bb",
                "sets": [
                    _trap("below", -5, -5, 0.0, 0.25),
                    _tri("inside", 0.1, 0.5, 0.9),
                    _trap("above", 0.75, 1.0, 6, 6),
                ],
            },
        ],
    }


def _trend_following(r: random.Random) -> Spec:
    fast = r.choice([8, 12, 20])
    return {
        "indicators": [
            {"name": "ema_x", "type": "ema_cross", "params": {"fast": fast, "slow": fast * 3}},
            {"name": "mom", "type": "momentum", "params": {"period": r.choice([20, 60])}},
            {"name": "rsi", "type": "rsi", "params": {"period": 14}},
        ],
        "fuzzy": [
            {"indicator": "ema_x", "sets": _signed_sets(r.choice([0.01, 0.02, 0.03]))},
            {"indicator": "rsi", "sets": _rsi_sets(r)},
        ],
    }


def _volatility_squeeze(r: random.Random) -> Spec:
    return {
        "indicators": [
            {"name": "atr", "type": "atr", "params": {"period": r.choice([10, 14, 20])}},
            {"name": "bb", "type": "bollinger", "params": {"period": r.choice([15, 20, 30])}},
            {"name": "ret", "type": "returns", "params": {"period": r.choice([1, 5])}},
        ],
        "fuzzy": [
            {
                "indicator": "atr",
                "sets": [
                    _trap("calm", 0, 0, 0.008, 0.012),
                    _tri("normal", 0.008, 0.014, 0.022),
                    _trap("wild", 0.018, 0.03, 1, 1),
                ],
            },
            {
                "indicator": "bb",
                "sets": [_trap("low", -5, -5, 0.2, 0.4), _trap("high", 0.6, 0.8, 6, 6)],
            },
        ],
    }


def _macd_momentum(r: random.Random) -> Spec:
    fast = r.choice([8, 12])
    return {
        "indicators": [
            {
                "name": "macd",
                "type": "macd",
                "params": {"fast": fast, "slow": fast * 2 + 2, "signal": r.choice([5, 9])},
            },
            {"name": "rsi", "type": "rsi", "params": {"period": 14}},
            {"name": "ret", "type": "returns", "params": {"period": 5}},
        ],
        "fuzzy": [
            {"indicator": "macd", "sets": _signed_sets(r.choice([0.001, 0.002, 0.004]))},
            {"indicator": "rsi", "sets": _rsi_sets(r)},
        ],
    }


FAMILIES: dict[str, Callable[[random.Random], Spec]] = {
    "momentum_breakout": _momentum_breakout,
    "rsi_mean_reversion": _rsi_mean_reversion,
    "trend_following": _trend_following,
    "volatility_squeeze": _volatility_squeeze,
    "macd_momentum": _macd_momentum,
}


class BuiltinDesigner:
    name = "builtin"

    def design(self, request: DesignRequest, token: CancellationToken) -> StrategyConfig:
        del token  # designing takes microseconds; the worker checks the token after it
        r = random.Random(request.seed)
        family = r.choice(sorted(FAMILIES))
        spec = FAMILIES[family](r)
        now = request.now or utcnow()
        epochs = request.epochs or r.choice([150, 200, 250, 300])
        return StrategyConfig.model_validate(
            {
                "name": f"{family}_{now:%Y%m%d}_{request.seed}",
                "description": f"Built-in design, family {family}, seed {request.seed}",
                "data": {
                    "symbol": (request.symbol or "SP500").upper(),
                    "timeframe": request.timeframe or "1d",
                },
                **spec,
                "labels": {
                    "horizon": r.choice([3, 5, 10]),
                    "threshold": r.choice([0.01, 0.015, 0.02]),
                },
                "model": {
                    "hidden_layers": r.choice([[32, 16], [64, 32], [64, 32, 16]]),
                    "epochs": epochs,
                    "learning_rate": r.choice([0.0005, 0.001, 0.002]),
                    "batch_size": r.choice([32, 64]),
                    "seed": request.seed,
                },
                "backtest": {"mode": r.choice(["long_flat", "long_flat", "long_short"])},
            }
        )
