"""`ktrdr server stop` names what it stops (address, pid, data dir) and never stops a
backend at another address than the settings': the real command against real backends."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live_backend import LiveBackend, env_without_ktrdr, free_port, run_ktrdr


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _env(port: int, data: Path) -> dict[str, str]:
    return env_without_ktrdr(KTRDR_PORT=str(port), KTRDR_DATA_DIR=str(data))


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_ktrdr(env, *args, timeout=60)


@pytest.fixture
def detached(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A backend started the way autostart does (`server start --detach`): pid file and all."""
    port, data = free_port(), tmp_path / "detached-data"
    started = _run(_env(port, data), "server", "start", "--detach")
    assert started.returncode == 0, started.stderr
    yield port, data
    _run(_env(port, data), "server", "stop")


def test_stop_refuses_a_backend_at_another_address_then_names_the_one_it_stops(
    detached: tuple[int, Path],
) -> None:
    port, data = detached
    pid = int((data / "server.pid").read_text())
    elsewhere = free_port()  # nothing answers here: the KTRDR_PORT=59999
    refused = _run(_env(elsewhere, data), "server", "stop")
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Not stopping anything"), lines
    for named in (f"127.0.0.1:{elsewhere}", f"127.0.0.1:{port}", str(data), f"pid {pid}"):
        assert named in lines[0]
    assert refused.stdout == ""
    assert _answers(port), "the refused stop must leave the backend running"

    stopped = _run(_env(port, data), "server", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == (
        f"Stopped the ktrdr backend at http://127.0.0.1:{port} (pid {pid}, data {data})"
    )
    assert not _answers(port)
    assert not (data / "server.pid").exists() and not (data / "server.url").exists()
    again = _run(_env(port, data), "server", "stop")
    assert again.stdout.strip() == (
        f"No local ktrdr backend was running at http://127.0.0.1:{port} (data dir {data})"
    )


def test_with_two_backends_stop_stops_the_one_at_the_settings_address(
    detached: tuple[int, Path], backend: LiveBackend
) -> None:
    detached_port, detached_data = detached
    record = (detached_data / "server.pid").read_text()
    # The settings name the live backend's port but the detached one's data dir: the
    # address decides, the data dir's pid file (the other backend's) is left alone.
    stopped = _run(_env(backend.port, detached_data), "server", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == (
        f"Stopped the ktrdr backend at {backend.url} (pid {backend.pid}, data {backend.data_dir})"
    )
    assert not _answers(backend.port)
    assert _answers(detached_port)
    assert (detached_data / "server.pid").read_text() == record
