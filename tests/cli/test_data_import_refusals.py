"""`ktrdr data import` looks before it reads (issue 21, item 13): a FIFO, a device such as
/dev/zero, a folder, or a file over the backend's import limit is refused with one line and
a usage exit, before any byte is read and without a backend. The real command runs in a
subprocess whose address space is capped, so a CLI that did start reading would fail (or
hang on the FIFO) instead of passing."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from ktrdr.cli.output import EXIT_FAILED, EXIT_USAGE
from tests.support.live_backend import env_without_ktrdr

ADDRESS_SPACE = 1024**3  # far below what reading /dev/zero or a 10 GiB file would take
GOOD_CSV = "date,open,high,low,close\n2024-01-02,10,11,9,10.5\n2024-01-03,10.5,12,10,11.5\n"


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def import_file(path: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``ktrdr data import PATH`` with no backend to talk to (autostart off)."""
    return subprocess.run(
        [sys.executable, "-m", "ktrdr", "data", "import", str(path), "--symbol", "MINE",
         "--timeframe", "1d", "--no-autostart"],
        env=env_without_ktrdr(KTRDR_DATA_DIR=str(tmp_path / "data"), KTRDR_AUTOSTART="0",
                              KTRDR_API_URL="http://127.0.0.1:9", **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=_capped,
        check=False,
    )  # fmt: skip


def one_line_refusal(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == EXIT_USAGE, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert proc.stdout == ""
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """Item 13 (CLI refuses non-regular files): a FIFO with no writer would block a reader
    for ever; the CLI looks at it, refuses it in one line and exits 2."""
    fifo = tmp_path / "prices.csv"
    os.mkfifo(fifo)
    one_line_refusal(import_file(fifo, tmp_path), str(fifo), "not a regular file", "FIFO")


@pytest.mark.parametrize(("path", "kind"), [("/dev/zero", "device"), (".", "folder")])
def test_devices_and_folders_are_refused_before_reading(
    tmp_path: Path, path: str, kind: str
) -> None:
    """Item 13 (CLI refuses non-regular files): /dev/zero (endless) and a folder are refused
    in one line, exit 2, without reading."""
    target = Path(path) if path.startswith("/") else tmp_path
    one_line_refusal(import_file(target, tmp_path), "not a regular file", kind)


def test_a_file_over_the_import_limit_is_refused_before_reading(tmp_path: Path) -> None:
    """Item 13 (CLI refuses a file over the server's limit, stat first): a sparse 10 GiB file
    is refused from its size alone, naming the size, the limit and the setting."""
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as out:
        out.truncate(10 * 1024**3)
    line = one_line_refusal(import_file(huge, tmp_path), "10.0 GiB", "50.0 MiB")
    assert "KTRDR_MAX_IMPORT_BYTES" in line


def test_the_limit_is_the_setting_and_a_file_within_it_goes_on(tmp_path: Path) -> None:
    """Item 13 (the CLI's limit is the server's setting): with KTRDR_MAX_IMPORT_BYTES=2048 a
    4 KiB file is refused, and a file within the limit passes the check and only then needs a
    backend."""
    big = tmp_path / "big.csv"
    big.write_text(GOOD_CSV + "2024-01-04,1,1,1,1\n" * 200)
    assert big.stat().st_size > 2048
    one_line_refusal(import_file(big, tmp_path, KTRDR_MAX_IMPORT_BYTES="2048"), "2.0 KiB")
    small = tmp_path / "small.csv"
    small.write_text(GOOD_CSV)
    proc = import_file(small, tmp_path, KTRDR_MAX_IMPORT_BYTES="2048")
    assert proc.returncode == EXIT_FAILED, proc.stderr[-2000:]
    assert "backend" in proc.stderr and "Traceback" not in proc.stderr
