"""The FastAPI app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ktrdr import __version__
from ktrdr.api.auth import BearerTokenGuard, check_token_setting
from ktrdr.api.errors import UnexpectedErrorMiddleware, install_error_handlers
from ktrdr.api.guards import HostPolicy, RequestGuard
from ktrdr.api.routes import (
    agent,
    backtests,
    data,
    health,
    meta,
    notifications,
    operations,
    pages,
    training,
    tree,
)
from ktrdr.api.shutdown import install_shutdown_handler
from ktrdr.api.strict_json import StrictJSONResponse
from ktrdr.bootstrap import Runtime, build_runtime
from ktrdr.config import Settings, get_settings
from ktrdr.data.scratch import sweep_stale
from ktrdr.errors import ConfigurationError
from ktrdr.logging import configure_logging, get_logger

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        log = get_logger("ktrdr.api")
        swept = sweep_stale(settings.data_dir)
        if swept:
            log.info("removed temporary files left by earlier runs", count=len(swept))
        if rt.service.recovered:
            log.warning(
                "operations interrupted by a restart ended (failed, or cancelled where a "
                "cancel had been acknowledged)",
                count=len(rt.service.recovered),
            )
        log.info("backend ready", store=rt.store_description, pid=rt.pid)
        try:
            yield
        finally:
            if runtime is None:
                rt.close()

    configure_logging(settings.log_format, settings.log_level)
    app = FastAPI(
        title="ktrdr",
        version=__version__,
        description="Research cycles, trainings and backtests as watchable operations.",
        lifespan=lifespan,
        default_response_class=StrictJSONResponse,
        # FastAPI's own /docs and /redoc load their scripts from a CDN: ktrdr.api.routes.pages
        # serves /docs from the packaged copy, under the web page's security headers.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_shutdown_handler(app)  # ShuttingDownError: 503 shutting_down
    for module in (health, operations, tree, training, backtests, agent, data, meta, notifications):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(pages.router)  # the web page, outside the API's prefix
    _install_guards(app, settings)
    return app


def _install_guards(app: FastAPI, settings: Settings) -> None:
    """What every request passes before a route: the token, the request guard and the
    last-resort error catcher."""
    try:
        hosts = HostPolicy.build(settings.host, settings.allowed_hosts)
    except ValueError as exc:
        raise ConfigurationError(str(exc), code="invalid_setting") from None
    # Added innermost first. The token is checked first of all, before the request guard
    # reads a body: a caller without it is refused on its headers alone (bodies sent without
    # the token once took the backend from 170 MB to 1.2 GB). Both run inside the
    # last-resort error catcher.
    check_token_setting(settings.host, settings.token)
    app.add_middleware(
        RequestGuard,
        hosts=hosts,
        port=settings.port,
        max_body_bytes=settings.max_body_bytes,
        body_limits={f"{API_PREFIX}/data/import": settings.max_import_bytes},
    )
    if settings.token is not None:
        app.add_middleware(BearerTokenGuard, token=settings.token)
    app.add_middleware(UnexpectedErrorMiddleware)
