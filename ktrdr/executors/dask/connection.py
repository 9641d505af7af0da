"""The backend's Dask client: which cluster, how to reach it safely, and what it looks like.

``KTRDR_DASK_SCHEDULER`` names a running scheduler (``tcp://HOST:PORT``, ``tls://...``) or
``local`` / ``local:N`` for a cluster of N single-threaded worker processes started inside the
backend, on loopback TLS that only the backend holds the keys to, with no HTTP server unless
its dashboard is asked for (``ktrdr.executors.dask.local``); it is shown as ``local:N``, never
by its port. Connecting never takes long (``CONNECT_TIMEOUT_SECONDS``): an
unreachable scheduler makes the backend start anyway and each submit try again, so it
recovers by itself when the scheduler is back. The view of the workers that /health shows
is a snapshot refreshed by the executor's monitor thread, never fetched by a request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import Client, SpecCluster
from distributed.security import Security

from ktrdr.errors import ClusterUnavailableError, ConfigurationError
from ktrdr.executors.dask.local import require_certificates, start_private_cluster
from ktrdr.logging import get_logger
from ktrdr.operations.threads import THREADS

CONNECT_TIMEOUT_SECONDS = 3.0
LOCAL_START_TIMEOUT_SECONDS = 60.0
CLOSE_TIMEOUT_SECONDS = 3.0

_log = get_logger("ktrdr.executors.dask")


@dataclass(frozen=True)
class ClusterState:
    """The cluster as last seen: ``status`` is connected | connecting | unavailable."""

    scheduler: str
    status: str
    workers: int = 0
    slots: int = 0
    busy: int = 0
    problem: str | None = None

    @property
    def free_slots(self) -> int:
        return max(0, self.slots - self.busy)


def tls_security(ca_file: Path | None, cert: Path | None, key: Path | None) -> Security | None:
    """Dask TLS from the three settings (all or none; none: Dask's own config applies)."""
    given = [p for p in (ca_file, cert, key) if p is not None]
    if not given:
        return None
    if len(given) != 3:
        raise ConfigurationError(
            "KTRDR_DASK_TLS_CA_FILE, KTRDR_DASK_TLS_CERT and KTRDR_DASK_TLS_KEY go together",
            code="invalid_setting",
        )
    return Security(
        tls_ca_file=str(ca_file),
        tls_client_cert=str(cert),
        tls_client_key=str(key),
        require_encryption=True,
    )


def local_workers(scheduler: str, default: int) -> int | None:
    """N for ``local`` / ``local:N``, None for a scheduler address."""
    if scheduler == "local":
        return default
    if scheduler.startswith("local:"):
        count = scheduler.removeprefix("local:")
        if not count.isdigit() or not 1 <= int(count) <= 64:
            raise ConfigurationError(
                f"KTRDR_DASK_SCHEDULER={scheduler!r}: local:N needs N from 1 to 64",
                code="invalid_setting",
            )
        return int(count)
    if "://" not in scheduler:
        raise ConfigurationError(
            f"KTRDR_DASK_SCHEDULER={scheduler!r}: give tcp://HOST:PORT, tls://HOST:PORT, "
            "local or local:N",
            code="invalid_setting",
        )
    return None


class ClusterConnection:
    """One Dask client at a time; ``client()`` (re)connects when there is none."""

    def __init__(
        self,
        scheduler: str,
        *,
        default_local_workers: int = 2,
        security: Security | None = None,
        dashboard: bool = False,
    ) -> None:
        self._scheduler = scheduler
        self._local_workers = local_workers(scheduler, default_local_workers)
        if self._local_workers is not None:
            require_certificates()
        self._security = security
        self._dashboard = dashboard  # the local cluster's only: a remote one has its own
        self._cluster: SpecCluster | None = None
        self._client: Client | None = None
        self._lock = threading.Lock()
        self._on_connect: Callable[[Client], None] = lambda _client: None
        self._state = ClusterState(self._scheduler, "connecting")

    @property
    def is_local(self) -> bool:
        return self._local_workers is not None

    @property
    def address(self) -> str:
        """The scheduler as shown (state, errors): its address, or ``local:N`` for the
        backend's own cluster, whose port is nobody else's business."""
        if self._local_workers is not None:
            return f"local:{self._local_workers}"
        return self._scheduler

    @property
    def dashboard_link(self) -> str | None:
        """The local cluster's dashboard (``dashboard=True`` only, loopback, no login)."""
        cluster = self._cluster
        if not self._dashboard or cluster is None:
            return None
        return str(cluster.dashboard_link) or None

    def on_connect(self, callback: Callable[[Client], None]) -> None:
        """Called with every new client (e.g. to subscribe to the progress topic)."""
        self._on_connect = callback

    def connect_in_background(self) -> None:
        """The first connection, off the caller's thread: the backend starts either way."""

        def attempt() -> None:
            try:
                self.client()
            except ClusterUnavailableError as exc:
                _log.warning("dask cluster unavailable at start", problem=exc.message)

        THREADS.thread(attempt, name="ktrdr-dask-connect").start()

    def current(self) -> Client | None:
        """The client if it is connected now (never connects)."""
        client = self._client
        return client if client is not None and client.status == "running" else None

    def client(self) -> Client:
        """A connected client, connecting first if needed; ``ClusterUnavailableError`` when
        the scheduler cannot be reached within a few seconds."""
        with self._lock:
            client = self.current()
            if client is not None:
                return client
            self._discard_client()
            try:
                client = self._connect()
            except Exception as exc:
                problem = f"The Dask scheduler at {self.address} cannot be reached: {exc}"
                self._state = ClusterState(self.address, "unavailable", problem=problem)
                raise ClusterUnavailableError(
                    problem, details={"scheduler": self.address}
                ) from None
            self._client = client
            self._state = ClusterState(self.address, "connected")
            _log.info("dask cluster connected", scheduler=self.address)
            if self.dashboard_link is not None:
                _log.warning("dask dashboard open, without login", url=self.dashboard_link)
            self._on_connect(client)
            return client

    def _connect(self) -> Client:
        if self._local_workers is not None:
            if self._cluster is None or self._cluster.status.name != "running":
                # A new cluster comes with new keys: the old one's are worthless.
                self._cluster = start_private_cluster(
                    self._local_workers,
                    dashboard=self._dashboard,
                    start_timeout=LOCAL_START_TIMEOUT_SECONDS,
                    preload=["ktrdr.executors.dask.preload"],
                )
            return Client(
                self._cluster,
                timeout=CONNECT_TIMEOUT_SECONDS,
                security=self._cluster.security,
                set_as_default=False,
            )
        return Client(
            self._scheduler,
            timeout=CONNECT_TIMEOUT_SECONDS,
            security=self._security,
            set_as_default=False,
        )

    def _discard_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close(timeout=CLOSE_TIMEOUT_SECONDS)
            except Exception as exc:  # it is already broken: that is why it goes
                _log.info("closing a lost dask client failed", error=str(exc))

    def refresh(self) -> tuple[ClusterState, dict[str, Any]]:
        """Ask the scheduler for its workers (monitor thread only: this is a round trip)."""
        client = self.current()
        if client is None:
            return self.state, {}
        try:
            # Straight from the scheduler: Client.scheduler_info() returns a cache that the
            # client's own periodic refresh overwrites with a worker-less summary.
            info = client.sync(
                client.scheduler.identity,  # type: ignore[union-attr]
                n_workers=-1,
                callback_timeout=CONNECT_TIMEOUT_SECONDS,
            )
        except Exception as exc:
            problem = f"The Dask scheduler at {self.address} does not answer: {exc}"
            self._state = ClusterState(self.address, "unavailable", problem=problem)
            return self._state, {}
        workers: dict[str, Any] = dict(info.get("workers", {}))
        busy = sum(
            int(w.get("metrics", {}).get("task_counts", {}).get("executing", 0))
            for w in workers.values()
        )
        self._state = ClusterState(
            self.address,
            "connected",
            workers=len(workers),
            slots=sum(int(w.get("nthreads", 0)) for w in workers.values()),
            busy=busy,
        )
        return self._state, {"id": info.get("id"), "workers": workers}

    @property
    def state(self) -> ClusterState:
        if self._state.status == "connected" and self.current() is None:
            self._state = self._lost()
        return self._state

    def _lost(self) -> ClusterState:
        return ClusterState(
            self.address,
            "unavailable",
            problem=f"Lost the connection to the Dask scheduler at {self.address}",
        )

    def close(self) -> None:
        with self._lock:
            self._discard_client()
            cluster, self._cluster = self._cluster, None
        if cluster is not None:
            try:
                cluster.close(timeout=CLOSE_TIMEOUT_SECONDS)
            except Exception as exc:
                _log.info("closing the local dask cluster failed", error=str(exc))
