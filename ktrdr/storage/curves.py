"""Learning curves on disk: one append-only file of fixed-width records per training, behind
the domain's port ``ktrdr.operations.curves.CurveStore``.

``<root>/<operation_id>.curve`` is a one-line header, ``ktrdr-curve 1 `` and the figure
names in record order, comma-separated, then one record per epoch, little-endian::

    u32 epoch | f64 per figure (NaN for a figure not reported) | u32 CRC-32 of the rest

which is 40 bytes an epoch for today's four figures (loss and accuracy, training and
validation). Appends are plain ``write`` calls without ``fsync``: what was written survives
the process being killed (the kernel has it); the file is synced once, when its training
ends. A reader serves what is readable: a record whose CRC does not match (a flipped
bit), a torn last record (a write cut short) or an epoch not after the one before are
skipped, and a file whose header cannot be read gives no rows, never an error.
"""

from __future__ import annotations

import math
import os
import re
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ktrdr.operations.curves import FIGURES, EpochRow

SUFFIX = ".curve"
_MAGIC = b"ktrdr-curve 1 "
_HEADER_LIMIT = 4096  # a header longer than this is not one of ours
_CRC = struct.Struct("<I")
_MAX_EPOCH = 2**32 - 1
# Operation ids are made by the service (``op_<kind>_<stamp>_<hex>``); anything else, such
# as a path from a URL, never names a file.
_OPERATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,199}$")


def _record(figures: int) -> struct.Struct:
    """A record without its CRC: the epoch and one float per figure."""
    return struct.Struct(f"<I{figures}d")


def record_size(figures: int = len(FIGURES)) -> int:
    """Bytes one epoch takes on disk."""
    return _record(figures).size + _CRC.size


class CurveFiles:
    """``CurveStore`` over a directory, created when the first curve is written."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._header = _MAGIC + ",".join(FIGURES).encode("ascii") + b"\n"
        self._layout = _record(len(FIGURES))
        self._checked: set[str] = set()  # curves whose header this process wrote or read

    def path_of(self, operation_id: str) -> Path | None:
        """The curve's file, or None for a string that is no operation id."""
        if not _OPERATION_ID.fullmatch(operation_id):
            return None
        return self.root / f"{operation_id}{SUFFIX}"

    # ------------------------------------------------------------------ writing
    def append(self, operation_id: str, rows: Sequence[EpochRow]) -> None:
        path = self.path_of(operation_id)
        if path is None:
            raise ValueError(f"{operation_id!r} is not an operation id")
        data = b"".join(self._encode(row) for row in rows if 0 <= row.epoch <= _MAX_EPOCH)
        if not data:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size < len(self._header):  # new, or its first write was cut short
                os.ftruncate(fd, 0)
                data = self._header + data
            else:
                self._check_header(fd, operation_id)
                # A write cut short (a full disk) leaves a torn record: drop it, so this
                # append's records line up with the layout again.
                torn = (size - len(self._header)) % (self._layout.size + _CRC.size)
                if torn:
                    os.ftruncate(fd, size - torn)
            _write_all(fd, data)
        finally:
            os.close(fd)
        self._checked.add(operation_id)

    def _encode(self, row: EpochRow) -> bytes:
        values = [math.nan if v is None else float(v) for v in row.values]
        body = self._layout.pack(row.epoch, *values)
        return body + _CRC.pack(zlib.crc32(body))

    def _check_header(self, fd: int, operation_id: str) -> None:
        if operation_id in self._checked:
            return
        if os.pread(fd, len(self._header), 0) != self._header:
            # Written by a ktrdr with other figures (or not a curve): appending records of
            # another layout would make the whole file unreadable.
            raise ValueError(f"the curve of {operation_id} has another layout")
        self._checked.add(operation_id)

    def finish(self, operation_id: str) -> None:
        self._checked.discard(operation_id)
        path = self.path_of(operation_id)
        if path is None:
            return
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return  # it ended before any epoch was written
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def remove(self, operation_id: str) -> None:
        self._checked.discard(operation_id)
        path = self.path_of(operation_id)
        if path is not None:
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ reading
    def read(self, operation_id: str) -> list[EpochRow] | None:
        path = self.path_of(operation_id)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            return []  # there is a curve, but nothing of it can be read now
        return decode(data)


def decode(data: bytes) -> list[EpochRow]:
    """The readable rows of a curve file's bytes (see the module docstring)."""
    end = data.find(b"\n", 0, _HEADER_LIMIT)
    if end < 0 or not data.startswith(_MAGIC):
        return []
    names = data[len(_MAGIC) : end].decode("ascii", "replace").split(",")
    layout = np.dtype([("epoch", "<u4"), ("values", "<f8", (len(names),)), ("crc", "<u4")])
    body = memoryview(data)[end + 1 :]
    count = len(body) // layout.itemsize  # a torn last record is left out
    whole = body[: count * layout.itemsize]
    records = np.frombuffer(whole, dtype=layout, count=count)
    checked = layout.itemsize - _CRC.size
    sums = np.fromiter(
        (zlib.crc32(whole[at : at + checked]) for at in range(0, len(whole), layout.itemsize)),
        dtype=np.uint32,
        count=count,
    )
    records = records[sums == records["crc"]]  # damaged ones out: their neighbours are whole
    epochs = records["epoch"].astype(np.int64)
    # Each epoch must be after every one before it (a stale or misplaced record is not).
    before = np.maximum.accumulate(np.concatenate(([-1], epochs[:-1]))) if epochs.size else epochs
    increasing = epochs > before
    values = np.full((int(increasing.sum()), len(FIGURES)), np.nan)
    for column, name in enumerate(FIGURES):  # today's figures; one the file predates is None
        if name in names:
            values[:, column] = records["values"][increasing, names.index(name)]
    return _rows(epochs[increasing].tolist(), values)


def _rows(epochs: list[int], values: npt.NDArray[np.float64]) -> list[EpochRow]:
    """Rows with None where a figure was not reported (NaN) or cannot be drawn (inf)."""
    listed = values.tolist()
    rows = [EpochRow(epoch, tuple(v)) for epoch, v in zip(epochs, listed, strict=True)]
    for i in np.flatnonzero(~np.isfinite(values).all(axis=1)).tolist():
        rows[i] = EpochRow(epochs[i], tuple(v if math.isfinite(v) else None for v in listed[i]))
    return rows


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
