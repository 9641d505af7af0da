"""How a series is named: the symbol and timeframe rules every entry point shares.

A series is stored as ``<SYMBOL>_<timeframe>.csv``, so these names become file names: they
are matched whole (``fullmatch``: Python's ``$`` would also match before a final newline),
start with a letter or digit (never ``.`` or ``..``), and are bounded. The timeframe is a
count and a unit (``15m``, ``1h``, ``1d``, ``1w``) from one minute up to a year.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from ktrdr.excerpt import excerpt

MAX_SYMBOL_LENGTH = 20
SYMBOL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,19}")
TIMEFRAME_PATTERN = re.compile(r"([1-9][0-9]{0,5})([mhdw])")
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
# One bar per year at most: anything longer is a typo, not a timeframe.
MAX_TIMEFRAME_MINUTES = 366 * 24 * 60


def symbol_problem(symbol: str) -> str | None:
    """Why ``symbol`` cannot name a series, or None when it can."""
    if SYMBOL_PATTERN.fullmatch(symbol):
        return None
    return (
        f"invalid symbol {excerpt(symbol)}: use 1-{MAX_SYMBOL_LENGTH} letters, digits, '.', '_'"
        " or '-', starting with a letter or digit"
    )


def timeframe_problem(timeframe: str) -> str | None:
    """Why ``timeframe`` cannot name a bar size, or None when it can."""
    found = TIMEFRAME_PATTERN.fullmatch(timeframe)
    if found is None:
        return (
            f"invalid timeframe {excerpt(timeframe)}: use a count from 1 and a unit m|h|d|w,"
            " e.g. 1d, 15m"
        )
    if timeframe_minutes(timeframe) > MAX_TIMEFRAME_MINUTES:
        return f"invalid timeframe {timeframe!r}: a bar can span at most a year (e.g. 52w)"
    return None


def timeframe_minutes(timeframe: str) -> int:
    """The bar size in minutes of a timeframe that matches ``TIMEFRAME_PATTERN``."""
    found = TIMEFRAME_PATTERN.fullmatch(timeframe)
    if found is None:
        raise ValueError(f"not a timeframe: {excerpt(timeframe)}")
    return int(found.group(1)) * _UNIT_MINUTES[found.group(2)]


def _checked_symbol(symbol: str) -> str:
    problem = symbol_problem(symbol)
    if problem is not None:
        raise ValueError(problem)
    return symbol


def _checked_timeframe(timeframe: str) -> str:
    problem = timeframe_problem(timeframe)
    if problem is not None:
        raise ValueError(problem)
    return timeframe


# For pydantic models: the same rules, reported as field errors.
Symbol = Annotated[str, AfterValidator(_checked_symbol)]
Timeframe = Annotated[str, AfterValidator(_checked_timeframe)]
