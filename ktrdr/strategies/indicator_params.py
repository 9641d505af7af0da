"""The parameters each indicator type takes, their defaults, and the values they may hold.

This is part of the strategy's definition, not of the computation: the strategy model
checks every indicator's parameters with these rules when it is built, so a strategy that
validates (from YAML, from the API, from a designer) is one whose features can be computed.
``ktrdr.indicators`` holds the computations and depends on this table, never the reverse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

Params = dict[str, float]

INDICATOR_DEFAULTS: dict[str, Params] = {
    "rsi": {"period": 14},
    "sma_cross": {"fast": 10, "slow": 30},
    "ema_cross": {"fast": 12, "slow": 26},
    "macd": {"fast": 12, "slow": 26, "signal": 9},
    "bollinger": {"period": 20, "k": 2.0},
    "atr": {"period": 14},
    "returns": {"period": 1},
    "momentum": {"period": 10},
}
"""Every indicator type with the parameters it takes and their defaults."""

# Parameters that count bars: whole numbers from 1 to MAX_BAR_COUNT.
BAR_COUNT_PARAMS = ("period", "fast", "slow", "signal")
# More bars than any series a user would train on; it keeps the window arithmetic small.
MAX_BAR_COUNT = 100_000
# Bollinger's band width in standard deviations.
MAX_BAND_WIDTH = 100.0


class ParameterError(ValueError):
    """One parameter of one indicator breaks a rule; ``param`` names it."""

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(problem)
        self.param = param
        self.problem = problem


def checked_params(kind: str, given: Mapping[str, float]) -> Params:
    """``given`` merged over the defaults of indicator type ``kind``, every value checked.

    Raises ``ParameterError`` for the first unknown parameter or value that breaks a rule.
    """
    defaults = INDICATOR_DEFAULTS[kind]
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        takes = ", ".join(defaults)
        raise ParameterError(unknown[0], f"unknown parameter {unknown[0]!r} (it takes: {takes})")
    params = {**defaults, **given}
    for name, value in params.items():
        if name in BAR_COUNT_PARAMS:
            if not math.isfinite(value) or value != int(value) or value < 1:
                raise ParameterError(
                    name, f"{name} must be a whole number of bars >= 1, got {value:g}"
                )
            if value > MAX_BAR_COUNT:
                raise ParameterError(
                    name, f"{name} must be at most {MAX_BAR_COUNT:,} bars, got {value:g}"
                )
        if name == "k":
            if not math.isfinite(value) or value <= 0:
                raise ParameterError(name, f"k must be a positive number, got {value:g}")
            if value > MAX_BAND_WIDTH:
                raise ParameterError(name, f"k must be at most {MAX_BAND_WIDTH:g}, got {value:g}")
    if "fast" in params and params["fast"] >= params["slow"]:
        raise ParameterError(
            "fast", f"fast ({params['fast']:g}) must be shorter than slow ({params['slow']:g})"
        )
    return params
