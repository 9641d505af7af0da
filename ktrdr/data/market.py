"""Market data access: bundled sample series, CSV imports, and the OHLCV rules.

Every series, bundled or imported, goes through the same CSV parser and the same
``validate_bars`` rules, so an engine can trust any ``Bars`` it receives: timestamps sorted
and unique, prices positive and finite, high/low enclosing open and close, volume >= 0.

Imports live in ``<data_dir>/market/<SYMBOL>_<timeframe>.csv`` (canonical ISO timestamps and
round-trip float text), written atomically so a failed or interrupted import never leaves a
half-written series behind and never replaces a good one. The file being written lives in
the data dir's scratch folder (``ktrdr.data.scratch``) until it is renamed into place.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from ktrdr.data.bars import Bars, FloatArray, instant
from ktrdr.data.scratch import scratch_dir
from ktrdr.data.series_names import symbol_problem, timeframe_problem
from ktrdr.errors import DataValidationError, InvalidRequestError, NotFoundError

BUNDLED_TIMEFRAME = "1d"
_BUNDLED_FILES = {"NASDAQ": "nasdaq.csv.gz", "SP500": "sp500.csv.gz"}

_DATE_COLUMNS = ("date", "timestamp", "datetime")
_PRICE_COLUMNS = ("open", "high", "low", "close")
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DATE_FORMATS = "YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], ISO 8601 with 'T', or M/D/YYYY"


class SeriesInfo(BaseModel):
    """What one stored series holds; ``first``/``last`` are ISO timestamps."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    timeframe: str
    bars: int
    first: str
    last: str
    source: Literal["bundled", "imported"]

    @classmethod
    def of(cls, bars: Bars, source: Literal["bundled", "imported"]) -> SeriesInfo:
        return cls(
            symbol=bars.symbol,
            timeframe=bars.timeframe,
            bars=len(bars),
            first=bars.first_timestamp,
            last=bars.last_timestamp,
            source=source,
        )


# --- the OHLCV rules ------------------------------------------------------------------------


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


def _bad_file(source: str, line: int, reason: str, rule: str) -> DataValidationError:
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
            raise _bad_file(
                source,
                1,
                f"missing column {wanted!r} (header has: {', '.join(names)})",
                "missing_column",
            )
    return positions


def _parse_csv(text: str, source: str, symbol: str, timeframe: str) -> tuple[Bars, list[int]]:
    """Parse OHLCV CSV text into Bars plus the file line number of every row.

    Errors name ``source`` and the line; OHLCV rule checks are left to the caller so that
    they can be reported with the line number too.
    """
    reader = csv.reader(io.StringIO(text), strict=True)
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise _bad_file(source, 1, "the file is empty (expected a header line)", "empty_file")
    positions = _column_positions(header, source)
    width = max(positions.values()) + 1
    number_columns = [name for name in (*_PRICE_COLUMNS, "volume") if name in positions]

    lines: list[int] = []
    seconds: list[int] = []
    numbers: dict[str, list[float]] = {name: [] for name in number_columns}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines (often a trailing one) carry no bar
            if len(row) < width:
                raise _bad_file(
                    source,
                    line,
                    f"expected at least {width} columns, found {len(row)}",
                    "missing_value",
                )
            stamp = _epoch_seconds(row[positions["date"]])
            if stamp is None:
                raise _bad_file(
                    source,
                    line,
                    f"cannot read date {row[positions['date']]!r} (use {_DATE_FORMATS})",
                    "bad_date",
                )
            for name in number_columns:
                cell = row[positions[name]]
                try:
                    numbers[name].append(float(cell))
                except ValueError:
                    raise _bad_file(
                        source, line, f"cannot read {name} {cell!r} as a number", "bad_number"
                    ) from None
            seconds.append(stamp)
            lines.append(line)
    except csv.Error as exc:
        raise _bad_file(source, reader.line_num, f"malformed CSV ({exc})", "bad_csv") from None
    if not lines:
        raise _bad_file(source, 2, "no data rows after the header", "empty_file")

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


def _parse_and_check(text: str, source: str, symbol: str, timeframe: str) -> Bars:
    """Parse and apply the OHLCV rules, reporting violations by file line."""
    bars, lines = _parse_csv(text, source, symbol, timeframe)
    found = _first_violation(bars)
    if found is not None:
        stamp = str(bars.timestamps[found.row])
        error = _bad_file(source, lines[found.row], f"{stamp}: {found.explanation}", found.rule)
        error.details.update(row=found.row, timestamp=stamp)
        raise error
    return _frozen(bars)


def _frozen(bars: Bars) -> Bars:
    """Make the arrays read-only: cached series are shared, so a caller must not edit them."""
    for array in (bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume):
        array.flags.writeable = False
    return bars


def _to_csv(bars: Bars) -> str:
    """The stored form: canonical ISO timestamps and shortest round-trip float text."""
    out = io.StringIO()
    out.write("timestamp,open,high,low,close,volume\n")
    stamps = np.datetime_as_string(bars.timestamps.astype("datetime64[s]"), unit="s").tolist()
    # tolist() gives Python floats, whose repr is the shortest text that reads back exactly.
    columns = (bars.open, bars.high, bars.low, bars.close, bars.volume)
    for stamp, *values in zip(stamps, *(c.tolist() for c in columns), strict=True):
        out.write(stamp + "," + ",".join(map(repr, values)) + "\n")
    return out.getvalue()


@cache
def _bundled(symbol: str) -> Bars:
    """Parse a bundled series once per process: it is package data and never changes."""
    filename = _BUNDLED_FILES[symbol]
    raw = resources.files("ktrdr.data").joinpath("bundled", filename).read_bytes()
    return _parse_and_check(
        gzip.decompress(raw).decode("utf-8"), filename, symbol, BUNDLED_TIMEFRAME
    )


# --- the service ----------------------------------------------------------------------------


class MarketData:
    """Lists, loads and imports OHLCV series; imports live under ``data_dir / "market"``."""

    def __reduce__(self) -> tuple[type[MarketData], tuple[Path]]:
        # Sent to a job process as its data dir alone: the caches there start empty.
        return (MarketData, (self.data_dir,))

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        # path -> (mtime_ns, size, bars): a file rewritten behind our back is re-read.
        self._imported: dict[Path, tuple[int, int, Bars]] = {}

    @property
    def market_dir(self) -> Path:
        return self.data_dir / "market"

    def list_series(self) -> list[SeriesInfo]:
        infos = [SeriesInfo.of(_bundled(symbol), "bundled") for symbol in _BUNDLED_FILES]
        for symbol, timeframe in self._imported_keys():
            infos.append(SeriesInfo.of(self._load_imported(symbol, timeframe), "imported"))
        return sorted(infos, key=lambda info: (info.symbol, info.timeframe))

    def load(
        self,
        symbol: str,
        timeframe: str = BUNDLED_TIMEFRAME,
        start: date | None = None,
        end: date | None = None,
    ) -> Bars:
        """Bars of one series within [start, end] (inclusive; a date ``end`` covers its day)."""
        bars = self._series(symbol.upper(), timeframe)
        if start is not None and end is not None and start > end:
            raise InvalidRequestError(
                f"start {start.isoformat()} is after end {end.isoformat()}",
                details={"start": start.isoformat(), "end": end.isoformat()},
            )
        lo = 0 if start is None else int(np.searchsorted(bars.timestamps, instant(start)))
        hi = len(bars)
        if end is not None:
            # A plain date means "through the end of that day", which matters for intraday bars.
            limit = instant(end) if isinstance(end, datetime) else instant(end + timedelta(1))
            side: Literal["left", "right"] = "right" if isinstance(end, datetime) else "left"
            hi = int(np.searchsorted(bars.timestamps, limit, side=side))
        if hi <= lo:
            wanted = f"{start.isoformat() if start else '…'} to {end.isoformat() if end else '…'}"
            raise InvalidRequestError(
                f"no {bars.symbol} {bars.timeframe} bars from {wanted}; "
                f"the series spans {bars.first_timestamp} to {bars.last_timestamp}",
                details={
                    "symbol": bars.symbol,
                    "timeframe": bars.timeframe,
                    "start": start.isoformat() if start else None,
                    "end": end.isoformat() if end else None,
                    "available_first": bars.first_timestamp,
                    "available_last": bars.last_timestamp,
                },
            )
        return bars if (lo, hi) == (0, len(bars)) else bars.slice(lo, hi)

    def import_csv(self, path: Path, symbol: str, timeframe: str) -> SeriesInfo:
        """Validate a CSV file and store it as ``symbol``/``timeframe`` (see ``import_text``)."""
        self._check_target(symbol, timeframe)
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no such file: {path}", details={"file": str(path)}) from None
        except OSError as exc:
            raise InvalidRequestError(
                f"cannot read {path}: {exc.strerror}", details={"file": str(path)}
            ) from None
        try:
            text = raw.decode("utf-8-sig")  # -sig: spreadsheet exports often start with a BOM
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise _bad_file(path.name, line, "not UTF-8 text", "bad_encoding") from None
        return self.import_text(text, path.name, symbol, timeframe)

    def import_text(self, text: str, source: str, symbol: str, timeframe: str) -> SeriesInfo:
        """Validate CSV text and store it as ``symbol``/``timeframe``, replacing an earlier
        import; ``source`` names the text in error messages (e.g. the uploaded file's name)."""
        symbol = self._check_target(symbol, timeframe)
        bars = _parse_and_check(text.removeprefix("\ufeff"), source, symbol, timeframe)
        target = self._stored_path(symbol, timeframe)
        _write_atomically(target, _to_csv(bars), scratch_dir(self.data_dir))
        self._imported.pop(target, None)
        return SeriesInfo.of(self._load_imported(symbol, timeframe), "imported")

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _check_target(symbol: str, timeframe: str) -> str:
        """The symbol as stored (upper case), once symbol and timeframe pass the rules."""
        for field, problem in (
            ("symbol", symbol_problem(symbol)),
            ("timeframe", timeframe_problem(timeframe)),
        ):
            if problem is not None:
                raise InvalidRequestError(problem, details={"field": field})
        symbol = symbol.upper()
        if symbol in _BUNDLED_FILES:
            raise InvalidRequestError(
                f"{symbol} is a bundled series and cannot be replaced; import under another name",
                details={"symbol": symbol},
            )
        return symbol

    def _series(self, symbol: str, timeframe: str) -> Bars:
        if symbol in _BUNDLED_FILES and timeframe == BUNDLED_TIMEFRAME:
            return _bundled(symbol)
        if (symbol, timeframe) in self._imported_keys():
            return self._load_imported(symbol, timeframe)
        available = sorted(
            [(name, BUNDLED_TIMEFRAME) for name in _BUNDLED_FILES] + self._imported_keys()
        )
        listing = ", ".join(f"{name} {tf}" for name, tf in available)
        raise NotFoundError(
            f"no market data for {symbol} {timeframe}; available: {listing}",
            details={
                "symbol": symbol,
                "timeframe": timeframe,
                "available": [f"{name} {tf}" for name, tf in available],
            },
        )

    def _stored_path(self, symbol: str, timeframe: str) -> Path:
        return self.market_dir / f"{symbol}_{timeframe}.csv"

    def _imported_keys(self) -> list[tuple[str, str]]:
        if not self.market_dir.is_dir():
            return []
        keys = []
        for path in self.market_dir.glob("*.csv"):
            symbol, _, timeframe = path.stem.rpartition("_")
            if symbol_problem(symbol) is None and timeframe_problem(timeframe) is None:
                keys.append((symbol, timeframe))
        return sorted(keys)

    def _load_imported(self, symbol: str, timeframe: str) -> Bars:
        path = self._stored_path(symbol, timeframe)
        stat = path.stat()
        cached = self._imported.get(path)
        if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        bars = _parse_and_check(
            path.read_text(encoding="utf-8"), f"market/{path.name}", symbol, timeframe
        )
        self._imported[path] = (stat.st_mtime_ns, stat.st_size, bars)
        return bars


def _write_atomically(target: Path, content: str, scratch: Path) -> None:
    """Write a temp file in ``scratch`` (same filesystem), fsync it, then rename it over
    ``target`` in one step; on any failure the temp file is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        "w",
        encoding="utf-8",
        dir=scratch,
        prefix=f"{target.name}.",
        suffix=".tmp",
        delete=False,
    )
    try:
        with handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


__all__ = [
    "BUNDLED_TIMEFRAME",
    "MarketData",
    "SeriesInfo",
    "validate_bars",
]
