"""What a request must be before any route sees it: addressed to this backend, sent by
this backend's own pages or a program, JSON when it changes anything, and not too large.

The backend has no authentication; it relies on listening on loopback. Two kinds of web
page could still reach it through the user's browser, and these checks stop both:
- **DNS rebinding**: a page on ``evil.example`` re-points that name at 127.0.0.1, so the
  browser treats the API as same-origin. Its requests carry ``Host: evil.example``: every
  request whose Host is not the backend's own address (loopback, the bind address, and
  ``KTRDR_ALLOWED_HOSTS``) is refused with 421 ``host_not_allowed``.
- **Cross-origin writes**: any page may POST a form or ``text/plain`` to any address without
  asking first. State-changing methods accept only ``application/json`` bodies (415
  otherwise, even when empty: a JSON request from another origin needs a CORS preflight,
  which this API never grants) and refuse an ``Origin`` other than the request's own
  scheme://host:port (403 ``cross_origin``).

Body limits (413 ``body_too_large``) are enforced while the body arrives: a declared
Content-Length over the limit is refused before reading, and a streamed body is read only
until it passes the limit. This is plain ASGI (no ``BaseHTTPMiddleware``), so responses,
including streamed ones, pass through untouched. A websocket handshake gets the Host and
Origin checks too (closed with 1008 before it is accepted).
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ktrdr.api.errors import error_response
from ktrdr.excerpt import excerpt

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_ANY_ADDRESS = ("", "0.0.0.0", "::")


def split_authority(value: str) -> tuple[str, int | None] | None:
    """``host[:port]`` (``[v6]:port`` for IPv6) as (lower-case host, port), None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    elif value.count(":") > 1:
        return None  # a bare IPv6 address is not a valid Host
    else:
        host, _, port_text = value.partition(":")
        port_text = port_text if ":" in value else None
    if not host:
        return None
    if port_text is None:
        return host, None
    if not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
        return None
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """Loopback by name or address; any other host name may resolve to anything."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HostPolicy:
    """Which Host headers name this backend."""

    names: frozenset[str]  # accepted with the backend's own port
    pairs: frozenset[tuple[str, int]]  # accepted with exactly this port
    any_host: bool = False

    @classmethod
    def build(cls, bind_host: str, allowed_hosts: str) -> HostPolicy:
        """The backend's own names (loopback, a specific bind address) plus the user's
        comma-separated ``allowed_hosts`` (``name`` or ``name:port``; ``*`` for any)."""
        names: set[str] = set()
        pairs: set[tuple[str, int]] = set()
        bind = bind_host.strip().lower().strip("[]")
        if bind not in _ANY_ADDRESS:
            names.add(bind)
        any_host = False
        for entry in (part.strip() for part in allowed_hosts.split(",")):
            if not entry:
                continue
            if entry == "*":
                any_host = True
                continue
            parsed = split_authority(entry)
            if parsed is None:
                raise ValueError(f"KTRDR_ALLOWED_HOSTS: cannot read {entry!r} as host[:port]")
            host, port = parsed
            if port is None:
                names.add(host)
            else:
                pairs.add((host, port))
        return cls(frozenset(names), frozenset(pairs), any_host)

    def allows(self, host_header: str | None, own_port: int, scheme: str) -> bool:
        if self.any_host:
            return True
        if host_header is None:
            return False
        parsed = split_authority(host_header)
        if parsed is None:
            return False
        host, port = parsed
        if port is not None and (host, port) in self.pairs:
            return True
        # No port in Host means the scheme's default port.
        effective = port if port is not None else _DEFAULT_PORTS.get(scheme)
        return effective == own_port and (is_loopback(host) or host in self.names)


def same_origin(origin: str, scheme: str, host_header: str) -> bool:
    """Whether an ``Origin`` header names the request's own scheme://host:port."""
    origin_scheme, sep, authority = origin.strip().lower().partition("://")
    if not sep or origin_scheme != scheme or "/" in authority:
        return False  # includes the opaque origin "null"
    theirs, ours = split_authority(authority), split_authority(host_header)
    if theirs is None or ours is None:
        return False
    default = _DEFAULT_PORTS.get(scheme)
    return (theirs[0], theirs[1] or default) == (ours[0], ours[1] or default)


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json"


class RequestGuard:
    """Host, Origin, Content-Type and body-size checks, in that order (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: HostPolicy,
        port: int,
        max_body_bytes: int,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.port = port  # used when the server does not say which port it listens on
        self.max_body_bytes = max_body_bytes
        self.body_limits = dict(body_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if str(scope.get("method", "GET")).upper() not in STATE_CHANGING:
            await self.app(scope, receive, send)
            return
        limit = self.body_limits.get(str(scope.get("path", "")), self.max_body_bytes)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(limit, scope, receive, send)
            return
        body = await self._read_body(limit, scope, receive, send)
        if body is not None:
            replay = _replay(body, receive)
            # Only the replay holds the messages now: each is let go once the app took it,
            # so a large body is not kept whole for the whole request.
            del body
            await self.app(scope, replay, send)

    def _refusal(self, scope: Scope, headers: Headers) -> ASGIApp | None:
        """The answer to a request refused on its headers alone: a foreign Host (any
        method); for a change of state, a foreign Origin or a body that is not JSON."""
        scheme = str(scope.get("scheme", "http"))
        host = headers.get("host")
        if not self.hosts.allows(host, self._own_port(scope), scheme):
            shown = excerpt(host) if host is not None else "(none)"
            return error_response(
                421,
                "host_not_allowed",
                f"This backend does not answer to Host {shown}; use its own address "
                "(e.g. 127.0.0.1) or add the name to KTRDR_ALLOWED_HOSTS",
            )
        method = str(scope.get("method", "GET")).upper()
        if method not in STATE_CHANGING:
            return None
        origin = headers.get("origin")
        if origin is not None and not same_origin(origin, scheme, host or ""):
            return error_response(
                403,
                "cross_origin",
                f"Requests that change anything must come from this backend's own pages, "
                f"not from {excerpt(origin)}",
            )
        declared = headers.get("content-length")
        has_body = "transfer-encoding" in headers or (declared is not None and declared != "0")
        # DELETE needs no body; anything else that changes state says what it wants in JSON.
        if not _is_json(headers.get("content-type")) and (has_body or method != "DELETE"):
            return error_response(
                415,
                "unsupported_media_type",
                "Send a JSON body with Content-Type: application/json",
            )
        return None

    async def _read_body(
        self, limit: int, scope: Scope, receive: Receive, send: Send
    ) -> list[Message] | None:
        """The request's body messages, to replay to the app; None when it grew past
        ``limit`` (the 413 is sent)."""
        body: list[Message] = []
        received = 0
        while True:
            message = await receive()
            body.append(message)
            if message["type"] != "http.request":
                return body  # the client went away; let the app see it
            received += len(message.get("body", b""))
            if received > limit:
                # The server drains the rest of the body after this answer, so the
                # connection stays usable for the next request.
                await self._too_large(limit, scope, receive, send)
                return None
            if not message.get("more_body", False):
                return body

    def _own_port(self, scope: Scope) -> int:
        server = scope.get("server")
        return server[1] if server and isinstance(server[1], int) else self.port

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """No socket today; when one comes, a page of another origin or name must not open
        it (browsers send both headers on the handshake): refused before it is accepted."""
        headers = Headers(scope=scope)
        scheme = "https" if scope.get("scheme") == "wss" else "http"
        host, origin = headers.get("host"), headers.get("origin")
        if not self.hosts.allows(host, self._own_port(scope), scheme) or (
            origin is not None and not same_origin(origin, scheme, host or "")
        ):
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(
            413,
            "body_too_large",
            f"The request body is larger than this endpoint accepts ({limit:,} bytes)",
            {"limit_bytes": limit},
        )(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out the body already read, then defers to the server's."""
    pending = deque(messages)

    async def replayed() -> Message:
        if pending:
            return pending.popleft()
        return await receive()

    return replayed
