"""Loaded series kept in memory, within a bound on their bytes, least recently used dropped.

A series read from disk costs a parse; keeping every one ever read would let a few large
imports hold the backend's memory for good. Each entry remembers which version of its file
it came from (``FileStamp``): a file replaced since is read again, never served stale.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

from ktrdr.data.bars import Bars


class FileStamp(NamedTuple):
    """One version of a file: a rename puts a new inode in place, a rewrite changes the
    size or the modification time."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileStamp:
        return cls(stat.st_size, stat.st_mtime_ns, stat.st_ino)


def bars_bytes(bars: Bars) -> int:
    columns = (bars.timestamps, bars.open, bars.high, bars.low, bars.close, bars.volume)
    return sum(int(column.nbytes) for column in columns)


class SeriesCache:
    """Bars by file path, at most ``max_bytes`` of them in total (0 keeps nothing). Safe to
    share between threads: the API's request threads and in-process jobs read it at once."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"a cache bound cannot be negative: {max_bytes}")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Path, tuple[FileStamp, Bars, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, path: Path, stamp: FileStamp) -> Bars | None:
        """The bars read from this version of ``path``, or None (then the entry is gone)."""
        with self._lock:
            entry = self._entries.get(path)
            if entry is None:
                return None
            if entry[0] != stamp:
                self._remove(path)
                return None
            self._entries.move_to_end(path)
            return entry[1]

    def put(self, path: Path, stamp: FileStamp, bars: Bars) -> None:
        """Keep ``bars`` as read from this version of ``path``, dropping the least recently
        used until the bound holds; a series bigger than the whole bound is not kept."""
        size = bars_bytes(bars)
        with self._lock:
            self._remove(path)
            if size > self.max_bytes:
                return
            self._entries[path] = (stamp, bars, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._remove(next(iter(self._entries)))

    def _remove(self, path: Path) -> None:
        entry = self._entries.pop(path, None)
        if entry is not None:
            self._bytes -= entry[2]
