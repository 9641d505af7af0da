"""The real ``ktrdr server start`` (and a CLI command) with settings that used to break the
backend after it had started: each is refused before anything binds, with one line naming
the variable and no traceback. An IPv6 bind host works end to end."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import BackendFactory
from tests.support.live_backend import run_ktrdr

# Each value started a backend that looked healthy while a thread of it was dead, or one that
# nobody could talk to, or let the CLI die with "unexpected UnicodeEncodeError".
BAD_SETTINGS = [
    ("KTRDR_PROGRESS_FLUSH_SECONDS", "inf"),
    ("KTRDR_CANCEL_GRACE_SECONDS", "inf"),
    ("KTRDR_CANCEL_GRACE_SECONDS", "nan"),
    ("KTRDR_STALL_SECONDS", "1e400"),
    ("KTRDR_JOB_THREADS", "100000000"),
    ("KTRDR_API_TOKEN", "x"),
    ("KTRDR_API_TOKEN", "   "),
    ("KTRDR_API_TOKEN", "é" * 20),
    ("KTRDR_HOST", "not a host"),
]


def nothing_answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/api/v1/health", timeout=1)
    except httpx.TransportError:
        return True
    return False


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_a_bad_setting_stops_the_server_with_one_line(
    backend_factory: BackendFactory, name: str, value: str
) -> None:
    """Items 10 and 14: a bad token or numeric/host setting: exit non-zero, one clear line."""
    backend = backend_factory(start=False)
    done = run_ktrdr({**backend.env, name: value}, "server", "start", timeout=30)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert name in lines[0] and "unexpected" not in lines[0]
    if name == "KTRDR_API_TOKEN":
        assert "16 printable ASCII" in lines[0]
        assert not value.strip() or value not in lines[0]  # the secret is never echoed
    assert nothing_answers(backend.url)


def test_a_non_ascii_token_in_the_cli_is_one_clear_line(backend_factory: BackendFactory) -> None:
    """Item 10: the CLI refuses a token no header can carry instead of a UnicodeEncodeError."""
    backend = backend_factory()
    done = run_ktrdr({**backend.env, "KTRDR_API_TOKEN": "ключ-доступа-1234567"}, "ops", "list")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "KTRDR_API_TOKEN" in lines[0] and "UnicodeEncodeError" not in lines[0]
    assert "ключ" not in done.stderr


def free_ipv6_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("::1", 0))
        return int(sock.getsockname()[1])


def test_an_ipv6_host_serves_and_the_cli_reaches_it(backend_factory: BackendFactory) -> None:
    """Item 14: KTRDR_HOST=::1 starts (it failed with InvalidURL) and the CLI talks to it."""
    backend = backend_factory(start=False)
    port = free_ipv6_port()
    env = {k: v for k, v in backend.env.items() if k != "KTRDR_API_URL"}
    env.update({"KTRDR_HOST": "::1", "KTRDR_PORT": str(port)})
    url = f"http://[::1]:{port}"
    with backend.log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ktrdr", "server", "start"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while nothing_answers(url):
            assert proc.poll() is None, backend.log_tail()
            assert time.monotonic() < deadline, backend.log_tail()
            time.sleep(0.1)
        status = run_ktrdr(env, "server", "status", "--json", timeout=30)
        assert status.returncode == 0, status.stdout + status.stderr
        assert f'"url": "{url}"' in status.stdout and '"running": true' in status.stdout
        listed = run_ktrdr(env, "ops", "list", "--json", timeout=30)
        assert listed.returncode == 0, listed.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
