"""Temporary files live in the data dir, one folder per process, and dead processes' folders
are swept at start; an import leaves nothing behind whether it succeeds or fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ktrdr.data.market import MarketData
from ktrdr.data.scratch import scratch_dir, scratch_root, sweep_stale

CSV = "date,open,high,low,close\n2020-01-01,1,1,1,1\n2020-01-02,1,1,1,1\n"


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def test_scratch_is_inside_the_data_dir_per_process(tmp_path: Path) -> None:
    folder = scratch_dir(tmp_path)
    assert folder == tmp_path / "tmp" / str(os.getpid())
    assert folder.is_dir()


def test_sweep_removes_what_dead_processes_left_and_keeps_the_living(tmp_path: Path) -> None:
    root = scratch_root(tmp_path)
    dead = root / str(dead_pid())
    (dead / "nested").mkdir(parents=True)
    (dead / "nested" / "half.csv.tmp").write_text("partial")
    stray = root / "stray.tmp"
    stray.write_text("x")
    odd = root / "not-a-pid"
    odd.mkdir()
    zero = root / "0"
    zero.mkdir()
    mine = root / str(os.getpid())  # left by an earlier process that had this pid
    mine.mkdir()
    (mine / "old.tmp").write_text("x")
    parent = root / str(os.getppid())  # a running process: its files are in use
    parent.mkdir()
    (parent / "busy.tmp").write_text("x")

    removed = sweep_stale(tmp_path)

    assert set(removed) == {dead, stray, odd, zero, mine}
    assert sorted(p.name for p in root.iterdir()) == [str(os.getppid())]
    assert (parent / "busy.tmp").read_text() == "x"


def test_sweep_without_a_scratch_folder_does_nothing(tmp_path: Path) -> None:
    assert sweep_stale(tmp_path) == []


def test_imports_leave_no_temp_file_on_success_or_failure(tmp_path: Path) -> None:
    market = MarketData(tmp_path)
    market.import_text(CSV, "good.csv", "AB", "1d")
    blocker = market.market_dir / "BLOCK_1d.csv"
    blocker.mkdir()
    (blocker / "keep").write_text("x")
    with pytest.raises(OSError):  # the final rename over a folder fails for real
        market.import_text(CSV, "blocked.csv", "BLOCK", "1d")
    leftovers = [p for p in scratch_root(tmp_path).rglob("*") if p.is_file()]
    assert leftovers == []
    assert sorted(p.name for p in market.market_dir.iterdir()) == ["AB_1d.csv", "BLOCK_1d.csv"]
