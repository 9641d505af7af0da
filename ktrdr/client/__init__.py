"""The HTTP client (the only httpx importer) and its follow/poll helpers."""

from ktrdr.client.errors import (
    ApiError,
    BackendTimeoutError,
    BackendUnavailableError,
    ClientError,
    NotFoundApiError,
)
from ktrdr.client.http import AsyncKtrdrClient, ClientTimeout, KtrdrClient

__all__ = [
    "ApiError",
    "AsyncKtrdrClient",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "ClientError",
    "ClientTimeout",
    "KtrdrClient",
    "NotFoundApiError",
]
