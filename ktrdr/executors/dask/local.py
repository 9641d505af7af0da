"""The backend's own Dask cluster (``KTRDR_DASK_SCHEDULER=local[:N]``), open to the backend only.

Dask's ``LocalCluster`` listens on plain TCP: any local user could connect a ``Client`` and run
code inside the backend (``run_on_scheduler``), past the API token. Here every comm (scheduler,
nannies, workers) is TLS with mutual authentication under a certificate made for this cluster
as it starts (``Security.temporary``, which needs ``cryptography``). The certificate lives in
this process's memory and reaches the worker processes through their nannies' pipes: no file
another user could read, nothing to configure. The workers stay processes, so jobs run off
the API's GIL; an ``inproc://`` cluster would need no port at all but would run every job on
the backend's own GIL.

Dask also opens an HTTP server on every node (on the scheduler, port 8787: the dashboard, JSON
state, Prometheus metrics, a proxy), none of which asks for credentials. Here none opens unless
the dashboard is asked for (``KTRDR_DASK_DASHBOARD``): then only the scheduler's, on loopback.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from distributed import Nanny, Scheduler, SpecCluster, Worker
from distributed.security import Security
from distributed.system import MEMORY_LIMIT

from ktrdr.errors import ConfigurationError

LOOPBACK = "127.0.0.1"
# Dask's usual dashboard port; Dask picks another one (and warns) when it is taken.
DASHBOARD_ADDRESS = f"{LOOPBACK}:8787"


class PrivateScheduler(Scheduler):
    """A Scheduler whose HTTP server opens only with its dashboard."""

    def __init__(self, *args: Any, dashboard: bool = False, **kwargs: Any) -> None:
        # Read by start_http_server, which Scheduler.__init__ itself calls.
        self._http_wanted = dashboard
        super().__init__(*args, dashboard=dashboard, **kwargs)

    def start_http_server(self, *args: Any, **kwargs: Any) -> None:
        if self._http_wanted:
            super().start_http_server(*args, **kwargs)


class PrivateWorker(Worker):
    """A Worker without an HTTP server: its TLS comm is its only port.

    Public and module-level because a nanny names it to the worker process it spawns."""

    def start_http_server(self, *args: Any, **kwargs: Any) -> None:  # noqa: ARG002
        return None  # Dask's routes and address are ignored: nothing opens


def require_certificates() -> None:
    """``ConfigurationError`` at start-up, rather than a cluster that never comes up, when
    ``cryptography`` (which makes the cluster's certificate) is missing."""
    if importlib.util.find_spec("cryptography") is None:
        raise ConfigurationError(
            "KTRDR_DASK_SCHEDULER=local needs `cryptography` to secure its cluster: "
            "pip install 'ktrdr[dask]'",
            code="dask_not_installed",
        )


def start_private_cluster(
    workers: int,
    *,
    dashboard: bool,
    start_timeout: float,
    preload: list[str],
) -> SpecCluster:
    """``workers`` single-threaded worker processes and a scheduler, all on loopback TLS; the
    cluster's ``security`` is the only way in (see module)."""
    security = Security.temporary()  # require_encryption: a tcp:// comm is refused outright
    worker_options = {
        "host": LOOPBACK,
        "protocol": "tls://",
        "security": security,
        "nthreads": 1,
        # As LocalCluster shares it: the machine's (or cgroup's) memory split between them.
        "memory_limit": MEMORY_LIMIT // workers,
        "worker_class": PrivateWorker,
        "dashboard": False,
        "dashboard_address": None,
        "silence_logs": logging.WARN,
        "timeout": start_timeout,
        # The engines load as a worker starts, not in its first job.
        "preload": preload,
    }
    worker_spec = {"cls": Nanny, "options": worker_options}
    scheduler_spec = {
        "cls": PrivateScheduler,
        "options": {
            "host": LOOPBACK,
            "port": 0,
            "protocol": "tls://",
            "security": security,
            "dashboard": dashboard,
            "dashboard_address": DASHBOARD_ADDRESS if dashboard else None,
        },
    }
    return SpecCluster(
        workers=dict.fromkeys(range(workers), worker_spec),
        scheduler=scheduler_spec,
        worker=worker_spec,
        security=security,
        silence_logs=logging.WARN,
    )
