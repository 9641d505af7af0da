"""The client's errors: the ``ClientError`` branch of the one tree in ``ktrdr.errors``
(re-exported here, where the client's callers look for them), and which class an error
answer from the backend becomes."""

from __future__ import annotations

from typing import Any

from ktrdr.errors import (
    ApiError,
    BackendTimeoutError,
    BackendUnavailableError,
    ClientError,
    ConflictApiError,
    NotFoundApiError,
)

__all__ = [
    "ApiError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "ClientError",
    "ConflictApiError",
    "NotFoundApiError",
    "api_error",
]


def api_error(status_code: int, code: str, message: str, details: dict[str, Any]) -> ApiError:
    cls = {404: NotFoundApiError, 409: ConflictApiError}.get(status_code, ApiError)
    return cls(status_code, code, message, details)
