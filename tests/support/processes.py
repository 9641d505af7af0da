"""Looking at a process tree through /proc (Linux): a backend's descendants (the process
executor's fork server and its job workers) and a process's CPU time."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may hold spaces: split after its closing one.
    return text[text.rindex(")") + 2 :].split()


def parent_of(pid: int) -> int:
    return int(_stat_fields(pid)[1])  # field 4 of stat, after pid and comm


def parents() -> dict[int, int]:
    """Every live process's parent."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            found[int(entry.name)] = parent_of(int(entry.name))
        except (OSError, ValueError):  # gone while we looked
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``, parents before their children."""
    children: dict[int, list[int]] = {}
    for child, parent in parents().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    frontier = [pid]
    while frontier:
        below = children.get(frontier.pop(0), [])
        found += below
        frontier += below
    return found


def job_processes(backend_pid: int) -> set[int]:
    """A process-executor backend's job processes: its grandchildren and below (they are
    forked by its fork server; the fork server and the resource tracker are its children)."""
    tree = parents()
    return {
        pid for child, parent in tree.items() if parent == backend_pid for pid in descendants(child)
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time ``pid`` has used so far (its own threads, not children)."""
    fields = _stat_fields(pid)
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat
    return (utime + stime) / _TICKS_PER_SECOND
