"""Saying who is using a database this backend cannot open because another process holds it.

SQLite refuses with "database is locked" when another process holds the file (a backend
whose lock file was removed, an ``sqlite3`` shell in a transaction). The one safe advice is
to stop that process or to use another data dir: moving a live database aside loses
whatever its owner writes next. Which process it is can be read, on Linux, from the
kernel's table of file locks (``/proc/locks``): SQLite's locks are POSIX locks on the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from ktrdr.errors import StoreInUseError

_LOCK_TABLE = Path("/proc/locks")


def lock_holder(path: Path) -> int | None:
    """The pid of a process holding a POSIX lock on ``path``; None when none does, when
    the file is missing or when this system has no readable lock table."""
    try:
        info = os.stat(path)
        table = _LOCK_TABLE.read_text()
    except OSError:
        return None
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in table.splitlines():
        # "1: POSIX  ADVISORY  WRITE 12842 fe:00:2147638 1073741824 1073742335"
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "POSIX" and fields[5] == device:
            try:
                pid = int(fields[4])
            except ValueError:
                continue
            if pid > 0:  # 0 or -1: a holder outside this process's pid namespace
                return pid
    return None


def store_in_use(db_path: Path, pid: int | None) -> StoreInUseError:
    """The refusal for a database another process holds: who (if known) and what to do."""
    holder = f"another process (pid {pid})" if pid is not None else "another process"
    return StoreInUseError(
        f"{db_path} is in use by {holder}. If it is a ktrdr backend, stop it "
        "(`ktrdr server stop`), or give this one its own KTRDR_DATA_DIR (or KTRDR_DB_PATH); "
        "do not move or delete a database while it is in use.",
        details={"db_path": str(db_path), "pid": pid},
    )
