"""Which file a path named when a store opened it, so a store can tell when the path now
names another file or none.

An open SQLite connection keeps writing to the file it opened even after that file was
removed (or another was moved in under its name): every write then succeeds into a file
nobody will ever read again, and the next start finds an empty or foreign database. The
device and inode pair identifies the opened file; one ``stat`` compares it, cheaply enough
for every flush.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Said without the path: /health answers it to anyone who may read health.
REMOVED_OR_REPLACED = (
    "the operations database file was removed or replaced while the backend ran "
    "(it was {what}); nothing more can be saved to it and new work is refused until the "
    "backend is restarted"
)


@dataclass(frozen=True)
class FileIdentity:
    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        st = os.stat(path)
        return cls(path, st.st_dev, st.st_ino)

    def problem(self) -> str | None:
        """Why the path no longer names the opened file, or None while it does (or when it
        cannot be told: a failing ``stat`` other than a missing file is not evidence)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return REMOVED_OR_REPLACED.format(what="removed")
        except OSError:
            return None
        if (st.st_dev, st.st_ino) != (self.device, self.inode):
            return REMOVED_OR_REPLACED.format(what="replaced by another file")
        return None
