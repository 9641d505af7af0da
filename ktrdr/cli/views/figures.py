"""How numbers look in the terminal: one formatter per kind of figure, so that the same kind
reads the same on every line (a fraction as a percentage, a Sharpe-like ratio, a loss, a
count, a progress percentage, a clock).

Figures come from the typed result records (``ktrdr.contract.results``), where a figure an
operation did not record (or recorded oddly) is None: every function shows "-" for it
instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MISSING = "-"


def _small_share(value: object) -> bool:
    """A non-zero fraction under 10 % (as it rounds to one decimal): it gets a decimal."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 < abs(float(value)) < 0.0995
    )


def percent(value: object, spec: str | None = None, sign: str = "") -> str:
    """0.58 -> "58%", 0.005 -> "0.5%", 0.046 -> "4.6%", 0.08 -> "8%": two significant
    digits at most, so that a drawdown of half a percent does not read "0%" (``spec``
    forces a format; ``sign`` "+" shows it on gains)."""
    if spec is not None or not isinstance(value, int | float):
        return number(value, spec or f"{sign}.0%")
    if _small_share(value):
        return number(value, f"{sign}.1%").replace(".0%", "%")
    return number(value, f"{sign}.0%")


def percents(values: Sequence[object], sign: str = "") -> list[str]:
    """Percentages read together (an estimate and its interval) with the same decimals: one
    when any of them is under 10 % (as ``percent`` would give it), so "+4.1% [-1.2%, +9.0%]",
    never "[-1.2%, +9%]"."""
    small = any(_small_share(v) for v in values)
    return [number(v, f"{sign}.1%" if small else f"{sign}.0%") for v in values]


def ratio(value: object, sign: str = "") -> str:
    """A Sharpe ratio, a deflated Sharpe, a PBO: two decimals ("+" shows the sign)."""
    return number(value, f"{sign}.2f")


def loss(value: object) -> str:
    """A training or validation loss: three decimals."""
    return number(value, ".3f")


def count(value: object) -> str:
    """Epochs, bars, trades: a whole number with thousands separators (1,258)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return MISSING
    return f"{round(value):,}"


def progress(percentage: float) -> str:
    """How far an operation is (0 to 100, not a fraction): whole percents, "45%"."""
    return f"{percentage:.0f}%"


def number(value: object, spec: str = ".2f") -> str:
    """A number in ``spec`` (a format spec such as "+.2f"); "-" when there is none."""
    if not isinstance(value, int | float):
        return MISSING
    return format(float(value), spec)


def clock(seconds: float | None) -> str:
    """Elapsed or remaining time as MM:SS, or H:MM:SS from an hour on; "--:--" if unknown."""
    if seconds is None or seconds < 0:
        return "--:--"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def readable_floats(value: Any, digits: int = 12) -> Any:
    """``value`` (nested dicts and lists) with every float cut to ``digits`` significant
    digits: 55.699999999999996 is arithmetic noise and reads as 55.7, while a difference
    in the 12th digit is far below what any strategy parameter means."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {key: readable_floats(item, digits) for key, item in value.items()}
    if isinstance(value, list):
        return [readable_floats(item, digits) for item in value]
    return value
