"""The real app under a real uvicorn server on loopback, in this process, over a runtime
the test holds: the test changes operations through the service at moments it chooses and
reads them back over HTTP, as any client would."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from ktrdr.api.app import create_app
from ktrdr.bootstrap import Runtime, build_runtime
from ktrdr.config import Settings
from ktrdr.operations.service import OperationsService
from tests.support.live_backend import free_port

STARTUP_SECONDS = 20.0


@dataclass(frozen=True)
class Served:
    base_url: str  # http://127.0.0.1:PORT
    runtime: Runtime

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def service(self) -> OperationsService:
        return self.runtime.service


@contextmanager
def served_in_process(data_dir: Path, **overrides: Any) -> Iterator[Served]:
    """``overrides``: Settings fields (e.g. ``workers=2``)."""
    port = free_port()
    settings = Settings(
        **{
            "data_dir": data_dir,
            "port": port,
            "executor": "thread",
            "ephemeral": True,
            "autostart": False,
            **overrides,
        }
    )
    runtime = build_runtime(settings)
    config = uvicorn.Config(
        create_app(settings, runtime), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="served-in-process", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the in-process server did not start")
            time.sleep(0.02)
        yield Served(f"http://127.0.0.1:{port}", runtime)
    finally:
        server.should_exit = True
        thread.join(10)
        runtime.close()
