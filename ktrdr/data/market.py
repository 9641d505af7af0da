"""Market data access: bundled sample series, CSV imports, and the OHLCV rules.

Every series, bundled or imported, goes through the same CSV parser and the same
``validate_bars`` rules (``ktrdr.data.csv_series``), so an engine can trust any ``Bars`` it
receives.

Imports live in ``<data_dir>/market/<SYMBOL>_<timeframe>.csv`` (canonical ISO timestamps and
round-trip float text), written atomically so a failed or interrupted import never leaves a
half-written series behind and never replaces a good one. The file being written lives in
the data dir's scratch folder (``ktrdr.data.scratch``) until it is renamed into place.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from ktrdr.data.bars import Bars, TimeArray, instant
from ktrdr.data.csv_series import bad_file, parse_and_check, to_csv, validate_bars
from ktrdr.data.scratch import scratch_dir
from ktrdr.data.series_names import symbol_problem, timeframe_problem
from ktrdr.errors import InvalidRequestError, NotFoundError

BUNDLED_TIMEFRAME = "1d"
_BUNDLED_FILES = {"NASDAQ": "nasdaq.csv.gz", "SP500": "sp500.csv.gz"}


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


@cache
def _bundled(symbol: str) -> Bars:
    """Parse a bundled series once per process: it is package data and never changes."""
    filename = _BUNDLED_FILES[symbol]
    raw = resources.files("ktrdr.data").joinpath("bundled", filename).read_bytes()
    return parse_and_check(
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

    def bar_times(self, symbol: str, timeframe: str = BUNDLED_TIMEFRAME) -> TimeArray:
        """Only a series' bar times, no prices: what planning windows over it needs (a
        walk-forward plan reads no price it is not yet allowed to see)."""
        return self._series(symbol.upper(), timeframe).timestamps.copy()

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
            raise bad_file(path.name, line, "not UTF-8 text", "bad_encoding") from None
        return self.import_text(text, path.name, symbol, timeframe)

    def import_text(self, text: str, source: str, symbol: str, timeframe: str) -> SeriesInfo:
        """Validate CSV text and store it as ``symbol``/``timeframe``, replacing an earlier
        import; ``source`` names the text in error messages (e.g. the uploaded file's name)."""
        symbol = self._check_target(symbol, timeframe)
        bars = parse_and_check(text.removeprefix("\ufeff"), source, symbol, timeframe)
        target = self._stored_path(symbol, timeframe)
        _write_atomically(target, to_csv(bars), scratch_dir(self.data_dir))
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
        bars = parse_and_check(
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
