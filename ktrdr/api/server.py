"""Run the backend in the foreground with uvicorn."""

from __future__ import annotations

import uvicorn

from ktrdr.api.app import create_app
from ktrdr.api.auth import check_token_setting
from ktrdr.api.guards import is_loopback
from ktrdr.api.limits import server_options
from ktrdr.bootstrap import build_runtime
from ktrdr.config import Settings
from ktrdr.logging import configure_logging, get_logger


def serve(settings: Settings) -> None:
    """Serve until stopped. The runtime is built first, before uvicorn binds the port: a
    database another backend owns (``StoreInUseError``) is refused before anything reads
    or recovers it, and the CLI reports it as one line."""
    configure_logging(settings.log_format, settings.log_level)
    # Before anything binds or reads: a backend on the network without a token is refused.
    check_token_setting(settings.host, settings.token)
    if not is_loopback(settings.host):
        get_logger("ktrdr.api").warning(
            "listening beyond this machine: every request but /health needs the API token",
            host=settings.host,
            port=settings.port,
        )
    runtime = build_runtime(settings)
    try:
        app = create_app(settings, runtime=runtime)
        # Access logs would print a line per 300 ms poll; our structlog lines say what matters.
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=3,
            **server_options(settings),
        )
    finally:
        runtime.close()
