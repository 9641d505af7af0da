"""What each imported series holds (bars, first and last time), recorded when it is stored,
so that listing series reads one small file per series instead of parsing every one.

Records live in ``<data_dir>/market-index/<SYMBOL>_<timeframe>.json``, beside the market
folder (which holds series files only), and name the version of the series file they
describe (``FileStamp``). A record that does not match its file (the file was replaced by
hand, stored before records existed, or its record was never written) is ignored: the
caller reads the series once and records it again. Records are a cache of facts the series
files hold, so failing to write one loses nothing but time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from ktrdr.data.scratch import write_atomically
from ktrdr.data.series_cache import FileStamp

INDEX_DIRNAME = "market-index"
# A record is a few hundred bytes; anything much bigger was not written by us.
_MAX_RECORD_BYTES = 4_096


class SeriesRecord(BaseModel):
    """One series file's version and what it holds; ``first``/``last`` are ISO timestamps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: int
    mtime_ns: int
    inode: int
    bars: int
    first: str
    last: str

    @property
    def stamp(self) -> FileStamp:
        return FileStamp(self.size, self.mtime_ns, self.inode)


class SeriesIndex:
    """The records of the series files in one data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.folder = self.data_dir / INDEX_DIRNAME

    def _path(self, series_file: Path) -> Path:
        return self.folder / f"{series_file.stem}.json"

    def read(self, series_file: Path, stamp: FileStamp) -> SeriesRecord | None:
        """The record of this version of ``series_file``, or None."""
        try:
            with self._path(series_file).open("rb") as handle:
                text = handle.read(_MAX_RECORD_BYTES + 1)
            record = SeriesRecord.model_validate_json(text)
        except (OSError, ValidationError):
            return None
        return record if record.stamp == stamp else None

    def write(self, series_file: Path, stamp: FileStamp, bars: int, first: str, last: str) -> None:
        """Record what this version of ``series_file`` holds (best effort: see the module)."""
        record = SeriesRecord(
            size=stamp.size,
            mtime_ns=stamp.mtime_ns,
            inode=stamp.inode,
            bars=bars,
            first=first,
            last=last,
        )
        try:
            write_atomically(self._path(series_file), record.model_dump_json(), self.data_dir)
        except OSError:
            pass  # e.g. a full disk: the next listing reads the series and tries again
