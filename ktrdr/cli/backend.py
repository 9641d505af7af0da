"""Finding, starting and stopping the local backend on behalf of CLI commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ktrdr.client.errors import ClientError
from ktrdr.client.http import ClientTimeout, KtrdrClient
from ktrdr.config import Settings, load_settings
from ktrdr.contract.operations import HealthPublic
from ktrdr.errors import ConfigurationError

STARTUP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class BackendFiles:
    pid: Path
    log: Path

    @classmethod
    def for_settings(cls, settings: Settings) -> BackendFiles:
        return cls(pid=settings.data_dir / "server.pid", log=settings.data_dir / "server.log")


def probe(base_url: str, timeout: float = 1.0, token: str | None = None) -> HealthPublic | None:
    """The backend's health if a ktrdr backend answers at ``base_url``, else None. With
    ``token`` (the backend's API token) the answer is whole; without, a backend that has
    one answers liveness only (no pid)."""
    client = KtrdrClient(base_url, timeout=ClientTimeout(timeout), token=token)
    try:
        health = client.health()
    except (ClientError, ValueError):
        return None
    finally:
        client.close()
    return health if health.service == "ktrdr" else None


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def backend_environment(settings: Settings, inherited: Mapping[str, str]) -> dict[str, str]:
    """The environment for a backend we start: ours passed on (PATH, API keys, ...), with
    where it binds and keeps its data taken from ``settings`` (which may hold overrides),
    and never KTRDR_API_URL (the child *is* the backend, not a client of another)."""
    env = dict(inherited)
    env.update(
        {
            "KTRDR_HOST": settings.host,
            "KTRDR_PORT": str(settings.port),
            "KTRDR_DATA_DIR": str(settings.data_dir),
            "KTRDR_LOG_FORMAT": settings.log_format,
        }
    )
    env.pop("KTRDR_API_URL", None)
    if settings.db_path is not None:
        env["KTRDR_DB_PATH"] = str(settings.db_path)
    return env


def start_detached(settings: Settings) -> HealthPublic:
    """Start ``ktrdr server start`` in its own session, logging to the data dir."""
    files = BackendFiles.for_settings(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = backend_environment(settings, os.environ)
    with files.log.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ktrdr", "server", "start"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl+C in the terminal must not reach the backend
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    url = settings.base_url
    while time.monotonic() < deadline:
        health = probe(url, timeout=0.5, token=settings.token)
        if health is not None:
            files.pid.write_text(f"{health.pid}\n")
            return health
        if proc.poll() is not None:
            raise ConfigurationError(
                f"The backend exited during start-up (code {proc.returncode}). "
                f"Last lines of {files.log}:\n{_log_tail(files.log)}"
            )
        time.sleep(0.1)
    proc.terminate()
    raise ConfigurationError(
        f"The backend did not answer at {url} within {STARTUP_TIMEOUT_SECONDS:.0f}s; "
        f"see {files.log}"
    )


def connect(settings: Settings, *, autostart: bool, announce: bool = True) -> KtrdrClient:
    """A client for the configured backend, starting a local one when allowed and needed."""
    url = settings.base_url
    if settings.api_url:
        # An explicit URL is the user's choice: never start something else in its place.
        if probe(url) is None:
            raise ConfigurationError(f"No ktrdr backend answers at {url} (KTRDR_API_URL)")
        return KtrdrClient(url, token=settings.token)
    if probe(url) is None:
        if not autostart:
            raise ConfigurationError(
                f"No ktrdr backend answers at {url}. Start one with `ktrdr server start "
                "--detach` (autostart is off: --no-autostart / KTRDR_AUTOSTART=0)."
            )
        health = start_detached(settings)
        if announce:
            sys.stderr.write(
                f"Started a local ktrdr backend at {url} (pid {health.pid}, "
                f"log {BackendFiles.for_settings(settings).log})\n"
            )
    return KtrdrClient(url, token=settings.token)


def stop(settings: Settings, timeout: float = 10.0) -> int | None:
    """Stop the local backend; returns the pid that was stopped, or None if none ran."""
    files = BackendFiles.for_settings(settings)
    health = probe(settings.base_url, token=settings.token)
    pid: int | None = health.pid if health is not None else None
    if pid is None and files.pid.exists():
        try:
            pid = int(files.pid.read_text().strip())
        except ValueError:
            pid = None
    if pid is None or not _alive(pid):
        files.pid.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    files.pid.unlink(missing_ok=True)
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def client_for(no_autostart: bool) -> KtrdrClient:
    """The client every backend-using command gets (honours --no-autostart / KTRDR_AUTOSTART)."""
    settings = load_settings()
    return connect(settings, autostart=settings.autostart and not no_autostart)
