"""How numbers look in the terminal: one spelling of a percentage, a ratio and a clock.

Figures come from the typed result records (``ktrdr.contract.results``), where a figure an
operation did not record (or recorded oddly) is None: every function shows "-" for it
instead of failing.
"""

from __future__ import annotations

from typing import Any

MISSING = "-"


def percent(value: object, spec: str | None = None, sign: str = "") -> str:
    """0.58 -> "58%", 0.005 -> "0.5%", 0.046 -> "4.6%", 0.08 -> "8%": two significant
    digits at most, so that a drawdown of half a percent does not read "0%" (``spec``
    forces a format; ``sign`` "+" shows it on gains)."""
    if spec is not None or not isinstance(value, int | float):
        return number(value, spec or f"{sign}.0%")
    if 0 < abs(float(value)) < 0.0995:
        return number(value, f"{sign}.1%").replace(".0%", "%")
    return number(value, f"{sign}.0%")


def signed_percent(value: object) -> str:
    """0.041 -> "+4.1%", -0.012 -> "-1.2%"."""
    return number(value, "+.1%")


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
