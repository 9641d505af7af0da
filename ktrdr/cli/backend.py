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
    """What a detached backend leaves in its data dir: its pid, the address it answers at
    (so that `server stop` can tell it from a backend the settings point at) and its log."""

    pid: Path
    log: Path
    address: Path

    @classmethod
    def for_settings(cls, settings: Settings) -> BackendFiles:
        return cls(
            pid=settings.data_dir / "server.pid",
            log=settings.data_dir / "server.log",
            address=settings.data_dir / "server.url",
        )

    def record(self, pid: int, url: str) -> None:
        self.pid.write_text(f"{pid}\n")
        self.address.write_text(f"{url}\n")

    def recorded(self) -> tuple[int, str | None] | None:
        """The pid and address written at start-up; no address from an older ktrdr."""
        try:
            pid = int(self.pid.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            return pid, self.address.read_text().strip() or None
        except OSError:
            return pid, None

    def forget(self) -> None:
        self.pid.unlink(missing_ok=True)
        self.address.unlink(missing_ok=True)


@dataclass(frozen=True)
class StoppedBackend:
    """What `server stop` stopped: the process, where it answered and where its data is."""

    pid: int
    url: str
    data: str  # a data dir, or "operations in memory" for an --ephemeral backend


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
            files.record(health.pid or proc.pid, url)
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
                f"log {BackendFiles.for_settings(settings).log}); it keeps running until "
                "`ktrdr server stop`\n"
            )
    return KtrdrClient(url, token=settings.token)


def _data_of(health: HealthPublic, settings: Settings) -> str:
    store = health.store or ""
    if store.startswith("sqlite:"):
        return str(Path(store.removeprefix("sqlite:")).parent)
    return "operations in memory" if store == "memory" else str(settings.data_dir)


def _backend_to_stop(settings: Settings, files: BackendFiles) -> StoppedBackend | None:
    """The backend the settings point at: the one answering at their address, else the one
    the data dir's pid file names, but only if it was started at that same address."""
    url = settings.base_url
    health = probe(url, token=settings.token)
    if health is not None and health.pid is not None:
        return StoppedBackend(health.pid, url, _data_of(health, settings))
    recorded = files.recorded()
    if recorded is None or not _alive(recorded[0]):
        files.forget()
        return None
    pid, recorded_url = recorded
    if recorded_url != url:
        # The pid file is shared by every port using this data dir: killing its pid would
        # stop a backend the user did not name (the settings' address answers nothing).
        elsewhere = f"at {recorded_url}" if recorded_url else "at an address it did not record"
        raise ConfigurationError(
            f"Not stopping anything: the settings point at {url}, where no ktrdr backend "
            f"answers, but the backend recorded in {settings.data_dir} (pid {pid}) runs "
            f"{elsewhere}. Stop that one with its address (e.g. KTRDR_PORT), or `kill {pid}`."
        )
    return StoppedBackend(pid, url, str(settings.data_dir))


def stop(settings: Settings, timeout: float = 10.0) -> StoppedBackend | None:
    """Stop the backend the settings point at; what was stopped, or None if none ran.
    Raises ConfigurationError rather than stop a backend at another address."""
    files = BackendFiles.for_settings(settings)
    target = _backend_to_stop(settings, files)
    if target is None:
        return None
    os.kill(target.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(target.pid):
        time.sleep(0.1)
    if _alive(target.pid):
        os.kill(target.pid, signal.SIGKILL)
    recorded = files.recorded()
    if recorded is not None and recorded[0] == target.pid:
        files.forget()  # another backend's record in this data dir stays
    return target


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
