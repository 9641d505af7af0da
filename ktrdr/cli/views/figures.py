"""How numbers look in the terminal: one spelling of a percentage, a ratio and a clock.

Figures come from the typed result records (``ktrdr.contract.results``), where a figure an
operation did not record (or recorded oddly) is None: every function shows "-" for it
instead of failing.
"""

from __future__ import annotations

MISSING = "-"


def percent(value: object, spec: str = ".0%") -> str:
    """0.58 -> "58%"."""
    return number(value, spec)


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
