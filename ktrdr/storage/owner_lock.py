"""One backend per database: an exclusive OS lock beside the database file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from ktrdr.errors import StoreInUseError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class OwnerLock:
    """An exclusive, non-blocking OS lock on ``<db>.lock`` naming the owning pid.

    One backend owns a database: a second one would run restart recovery over the first's
    live operations and both would write the same rows. The lock sits beside the *resolved*
    file, so a symlink or another spelling of the same path finds the same lock. The OS
    drops it when the process dies, even by SIGKILL, so a crash never blocks the next start.
    """

    def __init__(self, db_path: Path) -> None:
        resolved = db_path.resolve()
        self.path = resolved.with_name(resolved.name + ".lock")
        self._file: IO[str] | None = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115
        if fcntl is None:  # no flock on this platform: single-owner is on trust
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            self._file = None
            raise StoreInUseError(
                f"{db_path} is in use by another ktrdr backend (pid {holder}). Stop it "
                "first (`ktrdr server stop`) or give this one its own KTRDR_DATA_DIR or "
                "KTRDR_DB_PATH.",
                details={"db_path": str(db_path), "pid": holder},
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the flock
            self._file = None
