"""Run the backend in the foreground with uvicorn, and stop it cleanly.

A stop signal (SIGTERM from `ktrdr server stop`, systemd or docker; Ctrl+C) makes the
backend refuse new work at once, lets uvicorn drain the requests in flight, then ends the
running work as interrupted by the shutdown, writes everything to the database and exits 0.
"""

from __future__ import annotations

import sys

import uvicorn

from ktrdr.api.app import create_app
from ktrdr.api.auth import check_token_setting
from ktrdr.api.guards import is_loopback
from ktrdr.api.limits import server_options
from ktrdr.api.shutdown import StoppingServer, stop_signals_handled
from ktrdr.bootstrap import Runtime, build_runtime
from ktrdr.config import Settings
from ktrdr.logging import configure_logging, get_logger

# The exit code uvicorn.run gives when the server never started (a port already taken).
STARTUP_FAILURE = 3


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
    with stop_signals_handled(runtime.begin_shutdown):
        try:
            started = _run_server(settings, runtime)
        finally:
            runtime.close()
    if not started:
        sys.exit(STARTUP_FAILURE)  # e.g. the port is taken: uvicorn said why
    get_logger("ktrdr.api").info("backend stopped", pid=runtime.pid)


def _run_server(settings: Settings, runtime: Runtime) -> bool:
    """Serve until a stop signal; whether the server had started at all."""
    config = uvicorn.Config(
        create_app(settings, runtime=runtime),
        host=settings.host,
        port=settings.port,
        # Access logs would print a line per 300 ms poll; our structlog lines say what matters.
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=3,
        **server_options(settings),
    )
    server = StoppingServer(config, on_stop=runtime.begin_shutdown)
    server.run()
    return bool(server.started)
