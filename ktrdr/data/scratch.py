"""Temporary files inside the data dir, one folder per backend process, swept at start.

Work in progress (an import being written, a file about to be renamed into place) lives
in ``<data_dir>/tmp/<pid>/``, never in the system temp dir: it stays on the data dir's
filesystem, so the final rename is atomic, and it is easy to find what a killed process
left. ``sweep_stale`` removes the folders of processes that no longer run (and anything
else in ``tmp/`` that is not such a folder); a backend calls it when it starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

SCRATCH_DIRNAME = "tmp"


def scratch_root(data_dir: Path) -> Path:
    return Path(data_dir) / SCRATCH_DIRNAME


def scratch_dir(data_dir: Path) -> Path:
    """This process's folder for temporary files (created on first use)."""
    folder = scratch_root(data_dir) / str(os.getpid())
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _process_runs(pid: int) -> bool:
    if pid <= 0:
        return False  # 0 and below would address process groups, not one process
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # someone else's process: alive, just not ours to signal
    return True


def sweep_stale(data_dir: Path) -> list[Path]:
    """Remove what dead processes left in the scratch root; returns what was removed.

    A folder named after this process's own pid is stale too: it can only be left from an
    earlier process that had the same pid, since this one has not written anything yet.
    """
    root = scratch_root(data_dir)
    if not root.is_dir():
        return []
    removed: list[Path] = []
    for entry in sorted(root.iterdir()):
        pid = int(entry.name) if entry.name.isdigit() else None
        alive = pid is not None and pid != os.getpid() and _process_runs(pid)
        if alive and entry.is_dir() and not entry.is_symlink():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def write_atomically(
    target: Path, content: str | Callable[[IO[str]], None], data_dir: Path
) -> os.stat_result:
    """Write ``content`` (text, or a function writing to the open file) to a temp file in
    this process's scratch folder (the data dir's filesystem), fsync it, then rename it over
    ``target`` in one step; on any failure the temp file is removed. Returns the written
    file's stat, taken before the rename: it describes this content even when another
    writer replaces ``target`` right after."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        "w",
        encoding="utf-8",
        dir=scratch_dir(data_dir),
        prefix=f"{target.name}.",
        suffix=".tmp",
        delete=False,
    )
    try:
        with handle:
            if isinstance(content, str):
                handle.write(content)
            else:
                content(handle)
            handle.flush()
            os.fsync(handle.fileno())
            written = os.fstat(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return written
