"""What the disk can do to the HTTP edge, on a real backend: a full disk during an import is
a 507 (and the connection stays usable), a kill during an import leaves nothing behind
after the next start, and a stored NaN or infinity never reaches the wire as a bare token."""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ktrdr.records.models import OperationType
from tests.conftest import BackendFactory
from tests.integration.test_hardening_edge import csv_rows, envelope, local_port
from tests.support.live_backend import LiveBackend

API = "/api/v1"
MiB = 1024 * 1024


def strict_json(raw: bytes) -> Any:
    """Parse as strict JSON: NaN, Infinity and -Infinity are not JSON."""

    def refuse(token: str) -> None:
        raise AssertionError(f"the response holds the non-JSON token {token}")

    return json.loads(raw, parse_constant=refuse)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- a full disk ---------------------------------------------------------------------------


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Processes started inside inherit a file size limit, with SIGXFSZ ignored, so a write
    past it fails with EFBIG as on a quota: a full disk without root."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


@contextmanager
def small_tmpfs(where: Path, size: int) -> Iterator[None]:
    """A real filesystem that fills up (ENOSPC); needs the right to mount, else skipped."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def start_with_a_full_disk(backend: LiveBackend, how: str) -> Callable[[], None]:
    """Start ``backend`` so that writing ~3 MiB into its data dir fails; returns the undo."""
    if how == "quota":
        with file_size_limit(3 * MiB):
            backend.start()
        return lambda: None
    mount = small_tmpfs(backend.data_dir, 3 * MiB)
    mount.__enter__()
    try:
        backend.start()
    except BaseException:
        mount.__exit__(None, None, None)
        raise

    def undo() -> None:
        backend.kill()
        mount.__exit__(None, None, None)

    return undo


@pytest.mark.parametrize("how", ["quota", "tmpfs"])
def test_a_full_disk_on_import_is_507_and_the_connection_survives(
    backend_factory: BackendFactory, how: str
) -> None:
    backend = backend_factory(start=False)
    undo = start_with_a_full_disk(backend, how)
    try:
        text = csv_rows(80_000)  # ~4.4 MiB of CSV, stored as a similar amount
        with httpx.Client(base_url=backend.url + API, timeout=60) as http:
            first = http.post(
                "/data/import", json={"symbol": "FULL", "timeframe": "1m", "csv_text": text}
            )
            error = envelope(first, 507, "insufficient_storage")
            assert "space" in error["message"]
            small = http.post(
                "/data/import",
                json={"symbol": "SMALL", "timeframe": "1m", "csv_text": csv_rows(100)},
            )
            assert small.status_code == 201, small.text[:300]
            assert local_port(small) == local_port(first)  # same keep-alive connection
            listed = {s["symbol"] for s in http.get("/data").json()["data"]}
        assert "SMALL" in listed and "FULL" not in listed
        market = backend.data_dir / "market"
        assert sorted(p.name for p in market.iterdir()) == ["SMALL_1m.csv"]
        assert files_under(backend.data_dir / "tmp") == []  # the partial copy is gone
    finally:
        undo()


# --- a kill during an import ---------------------------------------------------------------


def test_a_kill_during_an_import_leaves_nothing_after_the_next_start(
    backend_factory: BackendFactory,
) -> None:
    backend = backend_factory(start=False)
    backend.env["KTRDR_MAX_IMPORT_BYTES"] = str(64 * MiB)
    backend.start()
    scratch = backend.data_dir / "tmp"
    text = csv_rows(300_000)
    killed_pid = backend.pid

    def post() -> None:
        try:
            httpx.post(
                f"{backend.url}{API}/data/import",
                json={"symbol": "KILLED", "timeframe": "1m", "csv_text": text},
                timeout=120,
            )
        except httpx.HTTPError:
            pass  # the backend dies under it

    sender = threading.Thread(target=post)
    sender.start()
    caught_mid_write = False
    deadline = time.monotonic() + 120
    while sender.is_alive() and time.monotonic() < deadline:
        if files_under(scratch):
            backend.kill()
            caught_mid_write = True
            break
        time.sleep(0.001)
    backend.kill()
    sender.join(timeout=30)

    left = files_under(scratch)
    if caught_mid_write:
        assert left, "the kill landed while the series was being written"
    else:
        # The kill missed the write (it is short); leave what it would have left.
        partial = scratch / str(killed_pid) / "KILLED_1m.csv.abc.tmp"
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text("timestamp,open\n2020-01-01T00:00:00,1")
    assert files_under(scratch)

    backend.start()
    assert files_under(scratch) == []
    assert not list(backend.data_dir.rglob("*.tmp"))
    market = backend.data_dir / "market"
    stored = sorted(p.name for p in market.iterdir()) if market.exists() else []
    assert stored in ([], ["KILLED_1m.csv"])  # all of it or nothing, never a partial series
    with httpx.Client(base_url=backend.url + API, timeout=30) as http:
        assert http.get("/data").status_code == 200


# --- strict JSON ---------------------------------------------------------------------------


def test_stored_nan_and_infinity_go_out_as_null(backend_factory: BackendFactory) -> None:
    backend = backend_factory(start=False)
    odd = {"sharpe": math.nan, "profit_factor": math.inf, "worst": -math.inf, "ok": 1.5}
    with backend.offline_service() as service:
        test = service.create(OperationType.BACKTESTING, parameters={"capital": math.inf})
        service.start(test.operation_id)
        service.complete(test.operation_id, {**odd, "nested": {"values": [math.nan, 2.0]}})
        cycle = service.create(OperationType.AGENT_RESEARCH)
        service.start(cycle.operation_id)
        service.complete(cycle.operation_id, {"metrics": odd})
    backend.start()
    with httpx.Client(base_url=backend.url + API, timeout=30) as http:
        one = strict_json(http.get(f"/operations/{test.operation_id}").content)["data"]
        assert one["result_summary"] == {
            "sharpe": None,
            "profit_factor": None,
            "worst": None,
            "ok": 1.5,
            "nested": {"values": [None, 2.0]},
        }
        listed = strict_json(http.get("/operations").content)["data"]
        assert {op["operation_id"] for op in listed} == {test.operation_id, cycle.operation_id}
        status = strict_json(http.get("/agent/status").content)["data"]
        assert status["cycle"]["result_summary"]["metrics"]["profit_factor"] is None
        for path in ("/health", "/data", "/models", "/operations?status=completed"):
            strict_json(http.get(path).content)
    assert os.path.exists(backend.db_path)
