"""Client-side errors.

ClientError (KtrdrError)
├── BackendUnavailableError   nothing answered (refused, reset, DNS): "connection lost"
│   └── BackendTimeoutError   the backend did not answer in time
└── ApiError                  the backend answered with an error envelope (code, message)
    ├── NotFoundApiError      404 (e.g. an unknown or lost operation)
    └── ConflictApiError      409 (e.g. a cycle already active, a finished operation)
"""

from __future__ import annotations

from typing import Any

from ktrdr.errors import KtrdrError


class ClientError(KtrdrError):
    code = "client_error"


class BackendUnavailableError(ClientError):
    code = "connection_lost"


class BackendTimeoutError(BackendUnavailableError):
    code = "timeout"


class ApiError(ClientError):
    def __init__(
        self, status_code: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.status_code = status_code


class NotFoundApiError(ApiError):
    pass


class ConflictApiError(ApiError):
    pass


def api_error(status_code: int, code: str, message: str, details: dict[str, Any]) -> ApiError:
    cls = {404: NotFoundApiError, 409: ConflictApiError}.get(status_code, ApiError)
    return cls(status_code, code, message, details)
