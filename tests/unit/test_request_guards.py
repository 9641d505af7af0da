"""The edge's decisions on their own: which Host names this backend, which Origin is its
own, and the last-resort error catcher. The same checks on a real server are in
``tests/integration/test_hardening_edge.py``."""

from __future__ import annotations

import asyncio
import errno
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from ktrdr.api.errors import UnexpectedErrorMiddleware, error_response, install_error_handlers
from ktrdr.api.guards import HostPolicy, RequestGuard, same_origin, split_authority
from ktrdr.api.strict_json import StrictJSONResponse, finite_only
from ktrdr.strategies.models import StrategyConfig


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("LocalHost:8000", ("localhost", 8000)),
        ("[::1]:8000", ("::1", 8000)),
        ("[::1]", ("::1", None)),
        ("example.com", ("example.com", None)),
        ("::1", None),  # a bare IPv6 address is not a Host
        ("host:", None),
        ("host:99999", None),
        ("host:8x", None),
        (":8000", None),
        ("[::1", None),
        ("[::1]x", None),
    ],
)
def test_split_authority(value: str, parsed: tuple[str, int | None] | None) -> None:
    assert split_authority(value) == parsed


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8000", True),
        ("localhost:8000", True),
        ("[::1]:8000", True),
        ("127.0.1.1:8000", True),  # all of 127/8 is this machine
        ("127.0.0.1:8001", False),  # another port is another service
        ("127.0.0.1", False),  # no port means port 80
        ("evil.example:8000", False),  # DNS rebinding: a foreign name resolving to us
        ("localhost.evil.example:8000", False),
        ("box.lan:8000", True),  # KTRDR_ALLOWED_HOSTS=box.lan
        ("box.lan:9000", False),
        ("proxy.lan:8443", True),  # KTRDR_ALLOWED_HOSTS=proxy.lan:8443
        ("proxy.lan:8000", False),
        (None, False),
        ("", False),
        ("127.0.0.1:8000\r\nX: y", False),
    ],
)
def test_host_policy(host: str | None, allowed: bool) -> None:
    policy = HostPolicy.build("127.0.0.1", "box.lan, proxy.lan:8443")
    assert policy.allows(host, 8000, "http") is allowed


def test_a_specific_bind_address_is_the_backends_own_and_any_address_is_not() -> None:
    assert HostPolicy.build("192.168.1.20", "").allows("192.168.1.20:8000", 8000, "http")
    assert not HostPolicy.build("0.0.0.0", "").allows("0.0.0.0:8000", 8000, "http")
    assert not HostPolicy.build("0.0.0.0", "").allows("192.168.1.20:8000", 8000, "http")
    assert HostPolicy.build("0.0.0.0", "").allows("localhost:8000", 8000, "http")


def test_the_default_port_may_be_left_out() -> None:
    assert HostPolicy.build("127.0.0.1", "").allows("localhost", 80, "http")
    assert HostPolicy.build("127.0.0.1", "").allows("localhost", 443, "https")


def test_star_accepts_any_host_and_bad_entries_are_refused() -> None:
    assert HostPolicy.build("127.0.0.1", "*").allows("anything:1", 8000, "http")
    with pytest.raises(ValueError, match="KTRDR_ALLOWED_HOSTS"):
        HostPolicy.build("127.0.0.1", "bad host:port:1")


@pytest.mark.parametrize(
    ("origin", "same"),
    [
        ("http://127.0.0.1:8000", True),
        ("HTTP://127.0.0.1:8000", True),
        ("http://localhost:8000", False),  # another origin, even if it is the same machine
        ("https://127.0.0.1:8000", False),
        ("http://127.0.0.1:8001", False),
        ("http://evil.example", False),
        ("null", False),
        ("http://127.0.0.1:8000/path", False),
        ("", False),
    ],
)
def test_same_origin(origin: str, same: bool) -> None:
    assert same_origin(origin, "http", "127.0.0.1:8000") is same


def test_same_origin_with_default_ports() -> None:
    assert same_origin("http://localhost", "http", "localhost:80")
    assert same_origin("http://localhost:80", "http", "localhost")


# --- strict JSON ---------------------------------------------------------------------------


def _strict_loads(raw: bytes | memoryview) -> Any:
    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(bytes(raw), parse_constant=refuse)


def test_non_finite_floats_go_out_as_null() -> None:
    content = {"a": float("nan"), "b": [1.5, float("inf"), {"c": -float("inf")}], "d": (2.0,)}
    assert finite_only(content) == {"a": None, "b": [1.5, None, {"c": None}], "d": [2.0]}
    body = StrictJSONResponse(content).body
    assert _strict_loads(body) == {"a": None, "b": [1.5, None, {"c": None}], "d": [2.0]}


def test_error_envelopes_are_bounded_and_strict() -> None:
    response = error_response(
        422,
        "x",
        "m" * 100_000,
        {"value": "v" * 100_000, "items": list(range(10_000)), "n": float("nan")},
    )
    body = _strict_loads(response.body)
    assert len(response.body) < 5_000
    assert body["error"]["details"]["n"] is None
    assert len(body["error"]["details"]["items"]) <= 50


# --- the last resort -----------------------------------------------------------------------


async def _run(app: Any, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


_SCOPE: Scope = {"type": "http", "method": "GET", "path": "/boom", "headers": []}


def test_an_unhandled_error_is_a_500_envelope_and_does_not_propagate() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a bug")

    sent = asyncio.run(_run(UnexpectedErrorMiddleware(broken), _SCOPE))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 500
    body = json.loads(sent[1]["body"])
    assert body == {
        "success": False,
        "error": {
            "code": "internal_error",
            "message": "Internal server error; see the server log",
            "details": {},
        },
    }


def test_an_error_after_the_response_started_still_propagates() -> None:
    async def half(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise OSError(errno.EIO, "gone")

    with pytest.raises(OSError):
        asyncio.run(_run(UnexpectedErrorMiddleware(half), _SCOPE))


# --- what the handlers make of errors a route lets through ----------------------------------


def _app_raising(error: BaseException) -> Any:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fail")
    def fail() -> None:
        raise error

    app.add_middleware(UnexpectedErrorMiddleware)  # as ktrdr.api.app installs it
    return app


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), 507, "insufficient_storage"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), 507, "insufficient_storage"),
        (OSError(errno.EFBIG, "File too large"), 507, "insufficient_storage"),
        (OSError(errno.ENAMETOOLONG, "File name too long"), 422, "name_too_long"),
        (ValueError("embedded null byte"), 422, "invalid_name"),
        (PermissionError(errno.EACCES, "Permission denied"), 500, "internal_error"),
        (ValueError("a bug"), 500, "internal_error"),
        (KeyError("a bug"), 500, "internal_error"),
    ],
)
def test_errors_a_route_lets_through_become_envelopes(
    error: BaseException, status: int, code: str
) -> None:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app_raising(error))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/fail")

    response = asyncio.run(call())
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_a_domain_model_refusing_input_inside_a_route_is_a_bounded_422() -> None:
    with pytest.raises(ValidationError) as refused:  # what a route might let through
        StrategyConfig.model_validate({f"k{i}": "v" * 1000 for i in range(500)})
    error = refused.value

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app_raising(error))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/fail")

    response = asyncio.run(call())
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert len(body["details"]["errors"]) == 20 and body["details"]["more_errors"] > 400
    assert len(response.content) < 5_000


# --- a future websocket is guarded too -----------------------------------------------------


def _ws_guard() -> tuple[RequestGuard, list[Message]]:
    accepted: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        accepted.append({"type": "reached"})

    guard = RequestGuard(
        app, hosts=HostPolicy.build("127.0.0.1", ""), port=8000, max_body_bytes=1024
    )
    return guard, accepted


@pytest.mark.parametrize(
    ("headers", "reaches"),
    [
        ([(b"host", b"127.0.0.1:8000")], True),
        ([(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")], True),
        ([(b"host", b"evil.example:8000")], False),
        ([(b"host", b"127.0.0.1:8000"), (b"origin", b"http://evil.example")], False),
    ],
)
def test_websocket_handshakes_are_guarded(
    headers: list[tuple[bytes, bytes]], reaches: bool
) -> None:
    guard, reached = _ws_guard()
    scope: Scope = {"type": "websocket", "scheme": "ws", "path": "/ws", "headers": headers}
    sent = asyncio.run(_run(guard, scope))
    assert bool(reached) is reaches
    assert sent == ([] if reaches else [{"type": "websocket.close", "code": 1008}])
