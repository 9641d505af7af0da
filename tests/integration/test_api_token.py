"""The token rule on a real server: a backend configured to serve beyond loopback refuses to
start without KTRDR_API_TOKEN; with one, every request but /health needs it (401 with the
error envelope otherwise), the CLI sends it from its settings, and it is never written to
the log or any output. The test itself talks to the server over 127.0.0.1 only."""

from __future__ import annotations

import json
import secrets
import socket
from urllib.parse import urlsplit

import httpx

from tests.conftest import BackendFactory
from tests.support.live_backend import run_ktrdr


def test_serving_beyond_loopback_without_a_token_is_refused(
    backend_factory: BackendFactory,
) -> None:
    backend = backend_factory(start=False)
    env = {**backend.env, "KTRDR_HOST": "0.0.0.0"}
    done = run_ktrdr(env, "server", "start", timeout=30)
    assert done.returncode != 0
    assert "KTRDR_API_TOKEN" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    with httpx.Client(timeout=1) as http:  # and nothing was left listening
        try:
            http.get(f"{backend.url}/api/v1/health")
            raise AssertionError("a backend answers though it refused to start")
        except httpx.TransportError:
            pass


def test_with_a_token_every_request_but_health_needs_it(backend_factory: BackendFactory) -> None:
    token = secrets.token_urlsafe(32)
    backend = backend_factory(start=False)
    backend.env.update({"KTRDR_HOST": "0.0.0.0", "KTRDR_API_TOKEN": token})
    backend.start()
    api = f"{backend.url}/api/v1"
    with httpx.Client(timeout=10) as http:
        assert http.get(f"{api}/health").status_code == 200  # open: says only "I am here"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            refused = http.get(f"{api}/operations", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == "Bearer"
            body = refused.json()
            assert body["success"] is False and body["error"]["code"] == "unauthorized"
            assert token not in refused.text
        posted = http.post(
            f"{api}/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 1}
        )
        assert posted.status_code == 401  # nothing starts without it
        allowed = http.get(f"{api}/operations", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200 and allowed.json()["total"] == 0
        tree = http.get(f"{api}/operations/op_x/tree", params={"wait": 1})
        assert tree.status_code == 401  # the held reads too

    # The CLI sends the token from its settings; without it, one line says what is missing.
    with_token = run_ktrdr(backend.env, "ops", "list", "--json")
    assert with_token.returncode == 0, with_token.stderr
    without = run_ktrdr({**backend.env, "KTRDR_API_TOKEN": ""}, "ops", "list")
    assert without.returncode != 0
    assert "KTRDR_API_TOKEN" in without.stderr and "Traceback" not in without.stderr
    assert len(without.stderr.strip().splitlines()) == 1, without.stderr
    # The monitor (long-polls, a cancel on Ctrl+C) sends it too.
    watched = run_ktrdr(backend.env, "model", "train", "rsi_mean_reversion", "--epochs", "2")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "Training complete" in watched.stdout
    wrong = run_ktrdr({**backend.env, "KTRDR_API_TOKEN": "not-the-backends-token"}, "ops", "list")
    assert wrong.returncode != 0 and "does not match" in wrong.stderr
    backend.stop()
    outputs = with_token.stdout + with_token.stderr + without.stderr + wrong.stderr
    outputs += watched.stdout + watched.stderr
    assert token not in outputs
    assert token not in backend.log_path.read_text(errors="replace")


def test_only_the_whole_token_after_the_bearer_scheme_opens_the_door(
    backend_factory: BackendFactory,
) -> None:
    """Each header a sloppy comparison (a prefix match, a scheme-only check) would let in
    gets 401; the scheme is case-insensitive (HTTP's rule), the token is exact."""
    token = secrets.token_urlsafe(32)
    backend = backend_factory(start=False)
    backend.env["KTRDR_API_TOKEN"] = token
    backend.start()
    url = f"{backend.url}/api/v1/operations"
    refused = [
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {token[: len(token) // 2]}",
        f"Bearer {token[:-1]}",
        f"Bearer {token}x",
        f"Bearer {token}{token}",
        f"Basic {token}",
        f"Token {token}",
        token,
        f"Bearer{token}",
        f"{token} Bearer",
    ]
    # Whitespace around a header's value is not part of it (HTTP), so the trailing space
    # never reaches the guard.
    accepted = [
        f"Bearer {token}",
        f"bearer {token}",
        f"BEARER {token}",
        f"Bearer  {token}",
        f"Bearer {token} ",
    ]
    for header in refused:
        status, body = _raw_get(url, header)
        assert status == 401, repr(header)
        assert json.loads(body)["error"]["code"] == "unauthorized"
    for header in accepted:
        assert _raw_get(url, header)[0] == 200, repr(header)


def _raw_get(url: str, authorization: str) -> tuple[int, bytes]:
    """A GET written byte by byte: HTTP clients refuse to send some of these headers
    (trailing spaces), but a hostile caller can."""
    parts = urlsplit(url)
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: {authorization}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return int(head.split(b" ", 2)[1]), body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2 :]
    return out
