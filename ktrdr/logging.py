"""structlog set-up: readable console lines in development, JSON with KTRDR_LOG_FORMAT=json.

Anything about an operation is logged with ``operation_id`` bound (see ``operation_logger``).
Values under keys that look secret are masked before rendering, so API keys never reach logs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_MARKERS = ("key", "token", "secret", "password", "authorization")


def _mask_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for name in list(event_dict):
        lowered = name.lower()
        if any(m in lowered for m in _SECRET_MARKERS) and not lowered.endswith("_id"):
            event_dict[name] = "***"
    return event_dict


def configure_logging(log_format: str = "console", level: str = "INFO") -> None:
    renderer: Any
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str = "ktrdr") -> Any:
    return structlog.get_logger(name)


def operation_logger(operation_id: str, **extra: Any) -> Any:
    return structlog.get_logger("ktrdr.operations").bind(operation_id=operation_id, **extra)
