"""Series as CSV text, and the rules every series obeys.

One parser reads every series, bundled or imported (dates in several common forms, columns
in any order, a bad line reported with its number and the rule it breaks), and
``validate_bars`` holds every ``Bars`` to the same rules: timestamps sorted and unique,
prices positive and finite, high/low enclosing open and close, volume >= 0. ``to_csv``
writes the canonical form imports are stored in (ISO timestamps, round-trip floats).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from ktrdr.data.bars import Bars, FloatArray
from ktrdr.errors import DataValidationError

_DATE_COLUMNS = ("date", "timestamp", "datetime")
_PRICE_COLUMNS = ("open", "high", "low", "close")
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DATE_FORMATS = "YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], ISO 8601 with 'T', or M/D/YYYY"


@dataclass(frozen=True)
class _Violation:
    row: int
    rule: str
    explanation: str


# Checked in this order: when one row breaks several rules, the first listed is reported.
_RULES = (
    ("finite_prices", "open, high, low and close must be finite numbers"),
    ("positive_prices", "open, high, low and close must be positive"),
    ("high_covers_open_close", "high must be >= max(open, close)"),
    ("low_covers_open_close", "low must be <= min(open, close)"),
    ("finite_volume", "volume must be a finite number"),
    ("non_negative_volume", "volume must be >= 0"),
    ("timestamp_present", "timestamp must be a valid time"),
    ("unique_timestamps", "timestamp repeats the previous row's"),
    ("sorted_timestamps", "timestamp must be later than the previous row's (ascending order)"),
)


def _first_violation(bars: Bars) -> _Violation | None:
    """The earliest row that breaks a rule, or None; vectorised so it costs ~nothing."""
    o, h, lo, c, v = bars.open, bars.high, bars.low, bars.close, bars.volume
    ts = bars.timestamps.astype("datetime64[s]")
    prices = np.vstack([o, h, lo, c])
    steps = ts[1:] - ts[:-1]
    no_step = np.zeros(1, dtype=bool)
    # Comparisons against NaN are simply False here: NaN rows are caught by the finite rules.
    with np.errstate(invalid="ignore"):
        masks = np.vstack(
            [
                ~np.isfinite(prices).all(axis=0),
                (prices <= 0).any(axis=0),
                h < np.maximum(o, c),
                lo > np.minimum(o, c),
                ~np.isfinite(v),
                v < 0,
                np.isnat(ts),
                np.concatenate([no_step, steps == np.timedelta64(0, "s")]),
                np.concatenate([no_step, steps < np.timedelta64(0, "s")]),
            ]
        )
    bad_rows = masks.any(axis=0)
    if not bad_rows.any():
        return None
    row = int(np.argmax(bad_rows))
    name, text = _RULES[int(np.argmax(masks[:, row]))]
    values = (
        f"open={o[row]!r}, high={h[row]!r}, low={lo[row]!r}, close={c[row]!r}, volume={v[row]!r}"
    )
    return _Violation(row=row, rule=name, explanation=f"{text} [{values}]")


def validate_bars(bars: Bars) -> None:
    """Raise ``DataValidationError`` naming the first row (index, timestamp) that breaks a rule."""
    lengths = {
        len(a) for a in (bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume)
    }
    if len(lengths) > 1:
        raise DataValidationError(
            f"{bars.symbol} {bars.timeframe}: columns have different lengths {sorted(lengths)}",
            details={"rule": "aligned_columns"},
        )
    found = _first_violation(bars)
    if found is None:
        return
    stamp = str(bars.timestamps[found.row].astype("datetime64[s]"))
    raise DataValidationError(
        f"{bars.symbol} {bars.timeframe} row {found.row} ({stamp}): {found.explanation}",
        details={"row": found.row, "timestamp": stamp, "rule": found.rule},
    )


# --- CSV parsing ----------------------------------------------------------------------------


def bad_file(source: str, line: int, reason: str, rule: str) -> DataValidationError:
    return DataValidationError(
        f"{source} line {line}: {reason}", details={"file": source, "line": line, "rule": rule}
    )


def _epoch_seconds(text: str) -> int | None:
    """Seconds since 1970 (UTC) for one of the accepted date spellings, or None."""
    text = text.strip()
    try:
        if _ISO_DATE.fullmatch(text):
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            days = moment.toordinal() - _EPOCH_ORDINAL
            return days * 86_400 + moment.hour * 3_600 + moment.minute * 60 + moment.second
        us = _US_DATE.fullmatch(text)
        if us:
            month, day, year = (int(part) for part in us.groups())
            return (date(year, month, day).toordinal() - _EPOCH_ORDINAL) * 86_400
    except ValueError:  # well-formed but impossible, e.g. 2020-02-30
        return None
    return None


def _column_positions(header: Sequence[str], source: str) -> dict[str, int]:
    """Where date/open/high/low/close/volume sit; extra columns are ignored."""
    names = [name.strip().lower() for name in header]
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        key = "date" if name in _DATE_COLUMNS else name
        if key in (*_PRICE_COLUMNS, "volume", "date") and key not in positions:
            positions[key] = index
    for required in ("date", *_PRICE_COLUMNS):
        if required not in positions:
            wanted = "date|timestamp|datetime" if required == "date" else required
            raise bad_file(
                source,
                1,
                f"missing column {wanted!r} (header has: {', '.join(names)})",
                "missing_column",
            )
    return positions


def _parse_row(
    row: list[str], line: int, source: str, positions: dict[str, int], number_columns: list[str]
) -> tuple[int, list[float]]:
    """One data row: its bar's time (epoch seconds) and its numbers, in ``number_columns``
    order. Errors name ``source`` and ``line``."""
    width = max(positions.values()) + 1
    if len(row) < width:
        raise bad_file(
            source, line, f"expected at least {width} columns, found {len(row)}", "missing_value"
        )
    stamp = _epoch_seconds(row[positions["date"]])
    if stamp is None:
        raise bad_file(
            source,
            line,
            f"cannot read date {row[positions['date']]!r} (use {_DATE_FORMATS})",
            "bad_date",
        )
    values = []
    for name in number_columns:
        cell = row[positions[name]]
        try:
            values.append(float(cell))
        except ValueError:
            raise bad_file(
                source, line, f"cannot read {name} {cell!r} as a number", "bad_number"
            ) from None
    return stamp, values


def _parse_csv(text: str, source: str, symbol: str, timeframe: str) -> tuple[Bars, list[int]]:
    """Parse OHLCV CSV text into Bars plus the file line number of every row.

    Errors name ``source`` and the line; OHLCV rule checks are left to the caller so that
    they can be reported with the line number too.
    """
    reader = csv.reader(io.StringIO(text), strict=True)
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise bad_file(source, 1, "the file is empty (expected a header line)", "empty_file")
    positions = _column_positions(header, source)
    number_columns = [name for name in (*_PRICE_COLUMNS, "volume") if name in positions]

    lines: list[int] = []
    seconds: list[int] = []
    numbers: dict[str, list[float]] = {name: [] for name in number_columns}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines (often a trailing one) carry no bar
            stamp, values = _parse_row(row, line, source, positions, number_columns)
            for name, value in zip(number_columns, values, strict=True):
                numbers[name].append(value)
            seconds.append(stamp)
            lines.append(line)
    except csv.Error as exc:
        raise bad_file(source, reader.line_num, f"malformed CSV ({exc})", "bad_csv") from None
    if not lines:
        raise bad_file(source, 2, "no data rows after the header", "empty_file")

    def column(name: str) -> FloatArray:
        if name not in numbers:
            return np.zeros(len(lines), dtype=np.float64)  # volume is optional
        return np.asarray(numbers[name], dtype=np.float64)

    bars = Bars(
        symbol=symbol,
        timeframe=timeframe,
        timestamps=np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"),
        open=column("open"),
        high=column("high"),
        low=column("low"),
        close=column("close"),
        volume=column("volume"),
    )
    return bars, lines


def parse_and_check(text: str, source: str, symbol: str, timeframe: str) -> Bars:
    """Parse and apply the OHLCV rules, reporting violations by file line."""
    bars, lines = _parse_csv(text, source, symbol, timeframe)
    found = _first_violation(bars)
    if found is not None:
        stamp = str(bars.timestamps[found.row])
        error = bad_file(source, lines[found.row], f"{stamp}: {found.explanation}", found.rule)
        error.details.update(row=found.row, timestamp=stamp)
        raise error
    return _frozen(bars)


def _frozen(bars: Bars) -> Bars:
    """Make the arrays read-only: cached series are shared, so a caller must not edit them."""
    for array in (bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume):
        array.flags.writeable = False
    return bars


def to_csv(bars: Bars) -> str:
    """The stored form: canonical ISO timestamps and shortest round-trip float text."""
    out = io.StringIO()
    out.write("timestamp,open,high,low,close,volume\n")
    stamps = np.datetime_as_string(bars.timestamps.astype("datetime64[s]"), unit="s").tolist()
    # tolist() gives Python floats, whose repr is the shortest text that reads back exactly.
    columns = (bars.open, bars.high, bars.low, bars.close, bars.volume)
    for stamp, *values in zip(stamps, *(c.tolist() for c in columns), strict=True):
        out.write(stamp + "," + ",".join(map(repr, values)) + "\n")
    return out.getvalue()
