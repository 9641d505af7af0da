"""What the HTTP server itself enforces before the app sees a request (connection and
timeout limits), as keyword arguments for uvicorn."""

from __future__ import annotations

from typing import Any

from ktrdr.config import Settings


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's own limits for this backend."""
    del settings
    return {}
