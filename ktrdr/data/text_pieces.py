"""CSV text a piece at a time, so that no parse ever holds a second copy of a whole file.

``text_chunks`` cuts text already in memory (an uploaded body), ``file_chunks`` decodes a
file as it reads it (UTF-8, a leading byte-order mark dropped, a bad byte reported by its
line) and ``lines`` turns either into the lines the csv module reads: split at ``\\n`` only,
each keeping its ending, exactly as iterating over an ``io.StringIO`` of the whole text.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import Protocol

from ktrdr.errors import DataValidationError

# Big enough that per-piece overhead vanishes, small enough that a piece costs nothing.
CHUNK_CHARS = 64 * 1024
CHUNK_BYTES = 64 * 1024


class Readable(Protocol):
    """A binary file, or anything read like one (a gzip stream, a socket's file)."""

    def read(self, size: int, /) -> bytes: ...


def text_chunks(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """``text`` in consecutive pieces of ``size`` characters."""
    if size < 1:
        raise ValueError(f"chunk size must be positive, not {size}")
    for start in range(0, len(text), size):
        yield text[start : start + size]


def file_chunks(stream: Readable, source: str, size: int = CHUNK_BYTES) -> Iterator[str]:
    """A binary stream decoded as UTF-8 in pieces of about ``size`` bytes; a leading BOM
    (spreadsheet exports often start with one) is dropped. A byte that is not UTF-8 is a
    ``DataValidationError`` naming ``source`` and its line."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    newlines_read = 0
    while True:
        raw = stream.read(size)
        # Bytes the decoder holds from the last read (half a character) come first again.
        pending = decoder.getstate()[0]
        try:
            text = decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            held = pending + raw
            line = newlines_read - pending.count(b"\n") + held.count(b"\n", 0, exc.start) + 1
            raise DataValidationError(
                f"{source} line {line}: not UTF-8 text",
                details={"file": source, "line": line, "rule": "bad_encoding"},
            ) from None
        newlines_read += raw.count(b"\n")
        if text:
            yield text
        if not raw:
            return


def lines(chunks: Iterable[str]) -> Iterator[str]:
    """The lines of the text ``chunks`` make up, however it was cut (see the module)."""
    pending = ""
    for chunk in chunks:
        if "\n" not in chunk:
            pending += chunk
            continue
        parts = (pending + chunk).split("\n")
        pending = parts.pop()
        for part in parts:
            yield part + "\n"
    if pending:
        yield pending
