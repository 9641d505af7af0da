"""The HTTP side of a shutdown: a stop signal noted the moment it arrives, and the refusal
of new work while the backend drains as a 503 ``shutting_down`` in the usual error body."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn
from fastapi import FastAPI, Request

from ktrdr.api.errors import error_response
from ktrdr.api.strict_json import StrictJSONResponse
from ktrdr.errors import ShuttingDownError

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def install_shutdown_handler(app: FastAPI) -> None:
    @app.exception_handler(ShuttingDownError)
    async def _shutting_down(_request: Request, exc: ShuttingDownError) -> StrictJSONResponse:
        # Not the server's fault and not the caller's: the same request succeeds against
        # the next backend, which a 503 says.
        return error_response(503, exc.code, exc.message, exc.details)


class StoppingServer(uvicorn.Server):
    """uvicorn's server, calling ``on_stop`` as soon as a stop signal arrives: new work is
    refused from then on, while uvicorn still drains the requests in flight."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_stop()
        super().handle_exit(sig, frame)


@contextmanager
def stop_signals_handled(on_stop: Callable[[], None]) -> Iterator[None]:
    """Within, SIGTERM and SIGINT only call ``on_stop``. uvicorn re-raises the signal that
    stopped it once it has drained; with the default action that kills the process before
    the runtime is closed (running work would stay "running" on disk, the last progress
    would be lost). Handled here, the caller goes on to close the runtime and exits 0."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: nothing to handle here
        return

    def noted(_sig: int, _frame: FrameType | None) -> None:
        on_stop()

    previous = {sig: signal.signal(sig, noted) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
