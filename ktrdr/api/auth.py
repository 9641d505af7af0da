"""A shared backend's door: the bearer token.

A backend that listens beyond loopback serves whoever can reach its port, so it must be
given ``KTRDR_API_TOKEN`` (the server refuses to start without one) and then every request
but the health check carries ``Authorization: Bearer <token>``. A backend on loopback asks
for the token too when one is set. The comparison takes the same time whatever the guess
(``hmac.compare_digest``); the token is never logged, and a refusal never echoes what the
caller sent.

The header is ``<scheme> <token>``: the scheme is matched without regard to case (HTTP
says auth schemes are case-insensitive, so ``bearer`` is accepted), the token exactly,
whole, with nothing before or after it. An empty header, a scheme alone, a prefix of the
token or the token with anything appended are refused.

The check is the outermost guard (see ``ktrdr.api.app``) and reads nothing but headers: a
refused request's body is never read. When that body is large, the 401 also closes the
connection, so the server stops reading what it would only throw away. ``/health`` stays
open, but says more than "I am here" only to a caller with the token
(``token_verified``).
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ktrdr.api.errors import error_response
from ktrdr.api.guards import is_loopback
from ktrdr.errors import ConfigurationError

# Load balancers and `ktrdr server status` probe this without credentials: it says only
# that a backend is there and how it is doing.
OPEN_PATHS = frozenset({"/api/v1/health"})
# Where the guard notes, for an open path, whether the caller sent the token.
_VERIFIED = "ktrdr_token_verified"
# A refused body up to this size is drained with the connection kept (cheap, and the
# client reads its 401 for sure); past it, or of unknown length, the connection closes.
DRAIN_LIMIT_BYTES = 64 * 1024


def token_verified(scope: Scope) -> bool | None:
    """Whether the guard saw the right token on this open-path request; None when no guard
    ran (no token is set)."""
    verified = scope.get("state", {}).get(_VERIFIED)
    return None if verified is None else bool(verified)


def _large_body(headers: Headers) -> bool:
    if "transfer-encoding" in headers:
        return True  # its length is known only once it has all been read
    declared = headers.get("content-length")
    return declared is not None and (not declared.isdigit() or int(declared) > DRAIN_LIMIT_BYTES)


def check_token_setting(host: str, token: str | None) -> None:
    """Refuse a configuration that would serve the network without a token."""
    if token is None and not is_loopback(host):
        raise ConfigurationError(
            f"KTRDR_HOST={host} serves beyond this machine: set KTRDR_API_TOKEN (a long random "
            "string, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) "
            "and give it to every client, or bind to 127.0.0.1",
            code="token_required",
        )


class BearerTokenGuard:
    """Pure ASGI: checks the ``Authorization`` header before anything else reads the request."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        if not token:
            raise ConfigurationError("KTRDR_API_TOKEN must not be empty", code="invalid_setting")
        self.app = app
        self._expected = token.encode("latin-1", "replace")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get("authorization")
        if scope.get("path") in OPEN_PATHS:
            scope.setdefault("state", {})[_VERIFIED] = given is not None and self._matches(given)
            await self.app(scope, receive, send)
            return
        if given is not None and self._matches(given):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        message = (
            "This backend needs its API token (KTRDR_API_TOKEN), sent as Authorization: Bearer"
            if given is None
            else "The API token sent does not match this backend's KTRDR_API_TOKEN"
        )
        response = error_response(401, "unauthorized", message)
        response.headers["WWW-Authenticate"] = "Bearer"
        if _large_body(headers):
            response.headers["Connection"] = "close"
        await response(scope, receive, send)

    def _matches(self, header: str) -> bool:
        scheme, _, credentials = header.partition(" ")
        # Headers arrive decoded as latin-1, so this encoding gives back the bytes sent.
        given = credentials.lstrip(" ").encode("latin-1", "replace")
        # compare_digest runs even for a wrong scheme: the answer takes no shortcut.
        same = hmac.compare_digest(given, self._expected)
        return same and scheme.lower() == "bearer"
