"""Run the backend in the foreground with uvicorn."""

from __future__ import annotations

import uvicorn

from ktrdr.api.app import create_app
from ktrdr.config import Settings


def serve(settings: Settings) -> None:
    app = create_app(settings)
    # Access logs would print a line per 300 ms poll; our own structlog lines say what matters.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=3,
    )
