"""A real ktrdr backend in a subprocess on a free loopback port, with its own data dir."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ktrdr.client import KtrdrClient
from ktrdr.operations.service import OperationsService
from ktrdr.storage.sqlite_store import SqliteOperationStore

STARTUP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveBackend:
    def __init__(self, root: Path, *, ephemeral: bool = False, port: int | None = None) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "server.log"
        self.ephemeral = ephemeral
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")},
            "KTRDR_HOST": "127.0.0.1",
            "KTRDR_PORT": str(self.port),
            "KTRDR_DATA_DIR": str(self.data_dir),
            "KTRDR_API_URL": self.url,
            "KTRDR_AUTOSTART": "0",
            "KTRDR_LOG_FORMAT": "json",
        }
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ktrdr.db"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @contextmanager
    def offline_service(self) -> Iterator[OperationsService]:
        """The backend's own SQLite file, opened directly while the server is not running,
        e.g. to seed operations the API cannot create. Like a backend start, opening it
        marks operations left open as interrupted; read the file with sqlite3 to inspect
        what a crash left instead."""
        assert not self.running, "stop the backend first: the server owns its database"
        service = OperationsService(SqliteOperationStore(self.db_path))
        try:
            yield service
        finally:
            service.close()

    @property
    def pid(self) -> int:
        assert self._proc is not None, "backend not started"
        return self._proc.pid

    def start(self) -> LiveBackend:
        args = [sys.executable, "-m", "ktrdr", "server", "start"]
        if self.ephemeral:
            args.append("--ephemeral")
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                args, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"backend exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"backend did not answer within {STARTUP_SECONDS}s:\n{self.log_tail()}")

    def client(self) -> KtrdrClient:
        return KtrdrClient(self.url)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def _end(self, sig: signal.Signals) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._proc = None
            return
        try:
            os.kill(proc.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        except ProcessLookupError:
            pass
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        self._proc = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def run_ktrdr(
    env: dict[str, str], *args: str, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """The real ``ktrdr`` command (``python -m ktrdr``) as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "ktrdr", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def env_without_ktrdr(**overrides: str) -> dict[str, str]:
    """The current environment minus every KTRDR_* variable, plus ``overrides``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    return {**base, **overrides}
