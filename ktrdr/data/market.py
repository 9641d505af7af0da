"""Market data access: bundled sample series, CSV imports, and the OHLCV rules.

Every series, bundled or imported, goes through the same streamed CSV parser and the same
``validate_bars`` rules (``ktrdr.data.csv_series``), so an engine can trust any ``Bars`` it
receives.

Imports live in ``<data_dir>/market/<SYMBOL>_<timeframe>.csv`` (canonical ISO timestamps and
round-trip float text), written atomically so a failed or interrupted import never leaves a
half-written series behind and never replaces a good one. The file being written lives in
the data dir's scratch folder (``ktrdr.data.scratch``) until it is renamed into place.

Memory stays bounded under load: a parse holds the finished arrays and one block, series
read from disk are kept in a cache bounded in bytes (``ktrdr.data.series_cache``), listing
reads each series' record (``ktrdr.data.series_index``) rather than the series, and callers
can cap imports at once with ``import_slots`` (``ktrdr.data.import_slots``).
"""

from __future__ import annotations

import gzip
import os
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from ktrdr.data.bars import Bars, TimeArray, instant
from ktrdr.data.csv_series import parse_and_check, parse_chunks, validate_bars, write_csv
from ktrdr.data.import_slots import ImportSlots
from ktrdr.data.scratch import write_atomically
from ktrdr.data.series_cache import FileStamp, SeriesCache
from ktrdr.data.series_index import SeriesIndex
from ktrdr.data.series_names import symbol_problem, timeframe_problem
from ktrdr.data.text_pieces import file_chunks
from ktrdr.errors import InvalidRequestError, NotFoundError

BUNDLED_TIMEFRAME = "1d"
_BUNDLED_FILES = {"NASDAQ": "nasdaq.csv.gz", "SP500": "sp500.csv.gz"}
# Series read from disk kept in memory: a bar costs 48 bytes, so this holds a few million
# bars (several large intraday imports) and never more.
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024


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


@cache
def _bundled(symbol: str) -> Bars:
    """Parse a bundled series once per process: it is package data and never changes."""
    filename = _BUNDLED_FILES[symbol]
    packed = resources.files("ktrdr.data").joinpath("bundled", filename)
    with packed.open("rb") as raw, gzip.open(raw) as unpacked:
        return parse_chunks(file_chunks(unpacked, filename), filename, symbol, BUNDLED_TIMEFRAME)


def _end_index(bars: Bars, end: date) -> int:
    """Where bars through ``end`` stop: a datetime is an instant, a plain date covers its
    whole day (which matters for intraday bars), and the last date of all covers every bar."""
    if isinstance(end, datetime):
        return int(np.searchsorted(bars.timestamps, instant(end), side="right"))
    if end >= date.max:
        return len(bars)  # its next day, the bound below, is past what dates can name
    return int(np.searchsorted(bars.timestamps, instant(end + timedelta(1)), side="left"))


# --- the service ----------------------------------------------------------------------------


class MarketData:
    """Lists, loads and imports OHLCV series; imports live under ``data_dir / "market"``.

    ``cache_bytes`` bounds the series read from disk kept in memory (see the module)."""

    def __reduce__(self) -> tuple[type[MarketData], tuple[Path, int]]:
        # Sent to a job process as its data dir and bound alone: the caches there start empty.
        return (MarketData, (self.data_dir, self._cache.max_bytes))

    def __init__(self, data_dir: Path, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.data_dir = Path(data_dir)
        self._cache = SeriesCache(cache_bytes)
        self._index = SeriesIndex(self.data_dir)
        # Imports in progress through this service; callers choose the limit (a setting).
        self.import_slots = ImportSlots()

    @property
    def market_dir(self) -> Path:
        return self.data_dir / "market"

    @property
    def cached_bytes(self) -> int:
        """Bytes of imported series held in memory (at most ``cache_bytes``)."""
        return self._cache.bytes

    def list_series(self) -> list[SeriesInfo]:
        """Every series, from what was recorded when each was stored (no series is read)."""
        infos = [SeriesInfo.of(_bundled(symbol), "bundled") for symbol in _BUNDLED_FILES]
        for symbol, timeframe in self._imported_keys():
            try:
                infos.append(self._imported_info(symbol, timeframe))
            except FileNotFoundError:
                continue  # removed since the folder was listed
        return sorted(infos, key=lambda info: (info.symbol, info.timeframe))

    def series_info(self, symbol: str, timeframe: str = BUNDLED_TIMEFRAME) -> SeriesInfo:
        """What one series holds, without reading it when it is imported and recorded."""
        symbol = symbol.upper()
        if symbol in _BUNDLED_FILES and timeframe == BUNDLED_TIMEFRAME:
            return SeriesInfo.of(_bundled(symbol), "bundled")
        if (symbol, timeframe) not in self._imported_keys():
            raise self._not_found(symbol, timeframe)
        return self._imported_info(symbol, timeframe)

    def load(
        self,
        symbol: str,
        timeframe: str = BUNDLED_TIMEFRAME,
        start: date | None = None,
        end: date | None = None,
    ) -> Bars:
        """Bars of one series within [start, end] (inclusive; a date ``end`` covers its day;
        a range reaching past the series is clipped to it)."""
        bars = self._series(symbol.upper(), timeframe)
        if start is not None and end is not None and start > end:
            raise InvalidRequestError(
                f"start {start.isoformat()} is after end {end.isoformat()}",
                details={"start": start.isoformat(), "end": end.isoformat()},
            )
        lo = 0 if start is None else int(np.searchsorted(bars.timestamps, instant(start)))
        hi = len(bars) if end is None else _end_index(bars, end)
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

    def bar_times(self, symbol: str, timeframe: str = BUNDLED_TIMEFRAME) -> TimeArray:
        """Only a series' bar times, no prices: what planning windows over it needs (a
        walk-forward plan reads no price it is not yet allowed to see)."""
        return self._series(symbol.upper(), timeframe).timestamps.copy()

    def import_csv(self, path: Path, symbol: str, timeframe: str) -> SeriesInfo:
        """Validate a CSV file, read a piece at a time, and store it as ``symbol``/
        ``timeframe`` (see ``import_text``)."""
        symbol = self._check_target(symbol, timeframe)
        path = Path(path)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise NotFoundError(f"no such file: {path}", details={"file": str(path)}) from None
        except OSError as exc:
            raise InvalidRequestError(
                f"cannot read {path}: {exc.strerror}", details={"file": str(path)}
            ) from None
        with handle:
            bars = parse_chunks(file_chunks(handle, path.name), path.name, symbol, timeframe)
        return self._store(bars)

    def import_text(self, text: str, source: str, symbol: str, timeframe: str) -> SeriesInfo:
        """Validate CSV text and store it as ``symbol``/``timeframe``, replacing an earlier
        import; ``source`` names the text in error messages (e.g. the uploaded file's name)."""
        symbol = self._check_target(symbol, timeframe)
        bars = parse_and_check(text.removeprefix("\ufeff"), source, symbol, timeframe)
        return self._store(bars)

    # -- internals ---------------------------------------------------------------------------

    def _store(self, bars: Bars) -> SeriesInfo:
        """Write checked bars as their series file, then keep them and their record: both
        name the version just written, so a concurrent rewrite is never mistaken for it."""
        target = self._stored_path(bars.symbol, bars.timeframe)
        written = write_atomically(target, lambda out: write_csv(bars, out), self.data_dir)
        stamp = FileStamp.of(written)
        self._cache.put(target, stamp, bars)
        info = SeriesInfo.of(bars, "imported")
        self._index.write(target, stamp, info.bars, info.first, info.last)
        return info

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
        raise self._not_found(symbol, timeframe)

    def _not_found(self, symbol: str, timeframe: str) -> NotFoundError:
        available = sorted(
            [(name, BUNDLED_TIMEFRAME) for name in _BUNDLED_FILES] + self._imported_keys()
        )
        listing = ", ".join(f"{name} {tf}" for name, tf in available)
        return NotFoundError(
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
        """An imported series, from the cache when it holds this version of its file."""
        path = self._stored_path(symbol, timeframe)
        with path.open("rb") as handle:
            # The open file's own stamp: a rename over the path right now cannot mix versions.
            stamp = FileStamp.of(os.fstat(handle.fileno()))
            cached = self._cache.get(path, stamp)
            if cached is not None:
                return cached
            source = f"market/{path.name}"
            bars = parse_chunks(file_chunks(handle, source), source, symbol, timeframe)
        self._cache.put(path, stamp, bars)
        if self._index.read(path, stamp) is None:
            self._index.write(path, stamp, len(bars), bars.first_timestamp, bars.last_timestamp)
        return bars

    def _imported_info(self, symbol: str, timeframe: str) -> SeriesInfo:
        """An imported series' record, or (no record for this version) the series read once."""
        path = self._stored_path(symbol, timeframe)
        record = self._index.read(path, FileStamp.of(path.stat()))
        if record is None:
            return SeriesInfo.of(self._load_imported(symbol, timeframe), "imported")
        return SeriesInfo(
            symbol=symbol,
            timeframe=timeframe,
            bars=record.bars,
            first=record.first,
            last=record.last,
            source="imported",
        )


__all__ = [
    "BUNDLED_TIMEFRAME",
    "MarketData",
    "SeriesInfo",
    "validate_bars",
]
