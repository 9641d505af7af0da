"""Series as CSV text, and the rules every series obeys.

One parser reads every series, bundled or imported (dates in several common forms, columns
in any order, a bad line reported with its number and the rule it breaks), and
``validate_bars`` holds every ``Bars`` to the same rules: timestamps sorted and unique,
prices positive and finite, high/low enclosing open and close, volume >= 0. ``write_csv``
writes the canonical form imports are stored in (ISO timestamps, round-trip floats).

Parsing streams: text arrives in pieces (``ktrdr.data.text_pieces``), rows are gathered a
block at a time into numpy arrays and each block is checked as it is made, so a parse holds
the finished arrays (48 bytes a bar) and one block, never the whole text again nor a Python
object per number. Errors are what a whole-text parse reports: the first unreadable line
wins over any rule, and otherwise the first row that breaks a rule.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO

import numpy as np
import numpy.typing as npt

from ktrdr.data.bars import Bars
from ktrdr.data.text_pieces import lines, text_chunks
from ktrdr.errors import DataValidationError

_DATE_COLUMNS = ("date", "timestamp", "datetime")
_PRICE_COLUMNS = ("open", "high", "low", "close")
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DATE_FORMATS = "YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], ISO 8601 with 'T', or M/D/YYYY"
# Rows per block in parsing and checking, and in writing (whose rows cost more as Python
# text): a block's Python objects (under 1 MB) stay small next to any file worth streaming,
# and blocks are big enough that the per-block numpy work vanishes.
BLOCK_ROWS = 2_048
_WRITE_ROWS = 1_024
_COLUMNS = ("open", "high", "low", "close", "volume")


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


def _first_violation(bars: Bars, block_rows: int = BLOCK_ROWS) -> _Violation | None:
    """The earliest row that breaks a rule, or None; a block at a time, so that checking a
    long series needs no temporary arrays the size of the series."""
    for start in range(0, len(bars), block_rows):
        # Each block but the first starts one row early, for the step into its first row;
        # that row itself passed with the block before (else the check had stopped there).
        before = min(start, 1)
        found = _block_violation(bars.slice(start - before, start + block_rows))
        if found is not None:
            return _Violation(start - before + found.row, found.rule, found.explanation)
    return None


def _block_violation(bars: Bars) -> _Violation | None:
    """The earliest row of ``bars`` that breaks a rule, or None; vectorised."""
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


@dataclass
class _Gathered:
    """Rows parsed so far: full blocks as numpy arrays, the block being filled as lists, and
    the first row that broke a rule (kept, not raised: a later unreadable line still wins)."""

    source: str
    symbol: str
    timeframe: str
    numbered: list[str]  # the number columns the file has, in _COLUMNS order
    block_rows: int = BLOCK_ROWS
    rows: int = 0
    seconds: list[int] = field(default_factory=list)
    numbers: list[list[float]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    blocks: dict[str, list[npt.NDArray[np.generic]]] = field(default_factory=dict)
    broken: DataValidationError | None = None

    def add(self, stamp: int, values: list[float], line: int) -> None:
        self.seconds.append(stamp)
        self.numbers.append(values)
        self.lines.append(line)
        if len(self.lines) >= self.block_rows:
            self.flush()

    def flush(self) -> None:
        """The block being filled becomes arrays, checked against the rules as it joins."""
        if not self.lines:
            return
        block = self._block_bars()
        if self.broken is None:
            self._check(block)
        if self.broken is None:  # once a row is broken no bars are kept, only read on
            for name, array in zip(("timestamps", *_COLUMNS), _arrays(block), strict=True):
                self.blocks.setdefault(name, []).append(array)
        self.rows += len(self.lines)
        self.seconds, self.numbers, self.lines = [], [], []

    def _block_bars(self) -> Bars:
        table = np.asarray(self.numbers, dtype=np.float64).reshape(len(self.lines), -1)
        values = dict(zip(self.numbered, table.T, strict=True))
        zeros = np.zeros(len(self.lines), dtype=np.float64)  # volume is optional
        columns = [np.ascontiguousarray(values.get(name, zeros)) for name in _COLUMNS]
        stamps = np.asarray(self.seconds, dtype=np.int64).astype("datetime64[s]")
        return Bars(self.symbol, self.timeframe, stamps, *columns)

    def _check(self, block: Bars) -> None:
        before = 1 if self.blocks else 0  # the last row kept, for the step into this block
        if before:
            joined = [
                np.concatenate([self.blocks[name][-1][-1:], array])
                for name, array in zip(("timestamps", *_COLUMNS), _arrays(block), strict=True)
            ]
            block = Bars(self.symbol, self.timeframe, *joined)
        found = _block_violation(block)
        if found is None:
            return
        row = found.row - before
        stamp = str(block.timestamps[found.row])
        error = bad_file(self.source, self.lines[row], f"{stamp}: {found.explanation}", found.rule)
        error.details.update(row=self.rows + row, timestamp=stamp)
        self.broken = error

    def bars(self) -> Bars:
        """All rows as one Bars: each column joined in turn, its blocks freed as it goes."""
        self.flush()
        if self.rows == 0:
            raise bad_file(self.source, 2, "no data rows after the header", "empty_file")
        if self.broken is not None:
            raise self.broken
        joined = [np.concatenate(self.blocks.pop(name)) for name in ("timestamps", *_COLUMNS)]
        return _frozen(Bars(self.symbol, self.timeframe, *joined))


def _arrays(bars: Bars) -> tuple[npt.NDArray[np.generic], ...]:
    return (bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume)


def parse_chunks(
    chunks: Iterable[str],
    source: str,
    symbol: str,
    timeframe: str,
    *,
    block_rows: int = BLOCK_ROWS,
) -> Bars:
    """Parse OHLCV CSV text, given in pieces cut anywhere, into checked, read-only Bars,
    ``block_rows`` rows at a time.

    Errors name ``source`` and the file line (see the module for which error wins)."""
    reader = csv.reader(lines(chunks), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise bad_file(source, 1, "the file is empty (expected a header line)", "empty_file")
        positions = _column_positions(header, source)
        numbered = [name for name in _COLUMNS if name in positions]
        gathered = _Gathered(source, symbol, timeframe, numbered, block_rows)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines (often a trailing one) carry no bar
            line = reader.line_num
            stamp, values = _parse_row(row, line, source, positions, numbered)
            gathered.add(stamp, values, line)
    except csv.Error as exc:
        raise bad_file(source, reader.line_num, f"malformed CSV ({exc})", "bad_csv") from None
    return gathered.bars()


def parse_and_check(text: str, source: str, symbol: str, timeframe: str) -> Bars:
    """Parse CSV text held whole (see ``parse_chunks``)."""
    return parse_chunks(text_chunks(text), source, symbol, timeframe)


def _frozen(bars: Bars) -> Bars:
    """Make the arrays read-only: cached series are shared, so a caller must not edit them."""
    for array in (bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume):
        array.flags.writeable = False
    return bars


def write_csv(bars: Bars, out: IO[str]) -> None:
    """The stored form, a block at a time: canonical ISO timestamps and the shortest text that
    reads back as exactly the same float."""
    out.write("timestamp,open,high,low,close,volume\n")
    for start in range(0, len(bars), _WRITE_ROWS):
        block = bars.slice(start, start + _WRITE_ROWS)
        stamps = np.datetime_as_string(block.timestamps.astype("datetime64[s]"), unit="s")
        # tolist() gives Python floats, whose repr is the shortest round-trip text.
        columns = [array.tolist() for array in _arrays(block)[1:]]
        out.write(
            "".join(
                stamp + "," + ",".join(map(repr, values)) + "\n"
                for stamp, *values in zip(stamps.tolist(), *columns, strict=True)
            )
        )


def to_csv(bars: Bars) -> str:
    """The stored form as one string (see ``write_csv``)."""
    out = io.StringIO()
    write_csv(bars, out)
    return out.getvalue()
