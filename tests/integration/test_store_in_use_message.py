"""A second backend on a database another one is using: the real ``ktrdr server start`` says
which pid owns it and to stop that backend or use another data dir, and never suggests
moving a live database aside (which loses what the live backend writes next)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ktrdr.storage.in_use import lock_holder
from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend, run_ktrdr


def second_start(first: LiveBackend, backend_factory: BackendFactory) -> str:
    """The one line a second backend on ``first``'s data dir fails with."""
    other = backend_factory(start=False)
    env = {**other.env, "KTRDR_DATA_DIR": str(first.data_dir)}
    done = run_ktrdr(env, "server", "start", timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def assert_safe_advice(line: str, pid: int) -> None:
    assert f"pid {pid}" in line, line
    assert "ktrdr server stop" in line and "KTRDR_DATA_DIR" in line
    assert "aside" not in line and "move it" not in line.lower()


def test_the_owner_lock_names_the_live_backend(backend_factory: BackendFactory) -> None:
    """Item 15: the usual refusal names the owner's pid and safe ways out."""
    first = backend_factory()
    assert_safe_advice(second_start(first, backend_factory), first.pid)


def test_a_database_locked_by_sqlite_is_not_to_be_moved(backend_factory: BackendFactory) -> None:
    """Item 15: "database is locked" (lock file gone) names the pid; never "move it aside"."""
    first = backend_factory()
    # The lock file removed by hand (or a cleaner): only SQLite's own lock still protects
    # the live database, and that refusal used to advise moving the file aside.
    (first.data_dir / "ktrdr.db.lock").unlink()
    line = second_start(first, backend_factory)
    assert_safe_advice(line, first.pid)
    assert "not a usable ktrdr database" not in line  # it is usable: it is busy
    assert first.running and first.client().health().pid == first.pid


def test_the_holder_of_a_sqlite_lock_is_found(tmp_path: Path) -> None:
    """Item 15: the pid is read from the system's lock table (here: this process's)."""
    path = tmp_path / "held.db"
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        assert lock_holder(path) is None
        connection.execute("BEGIN EXCLUSIVE")
        connection.execute("CREATE TABLE t (x)")
        assert lock_holder(path) == os.getpid()  # Linux's /proc/locks (as in production)
    finally:
        connection.close()
    assert lock_holder(path) is None
    assert lock_holder(tmp_path / "missing.db") is None
