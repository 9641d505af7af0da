"""A request refused early (413 on its declared size) whose body still arrives slowly keeps
its connection: the server drains the body (seconds past the keep-alive time), then answers
the next request on it."""

from __future__ import annotations

import socket
import time

from tests.conftest import BackendFactory

BODY_BYTES = 4_000
PIECES = 14  # one every 0.5 s: 7 s of sending, past the 5 s keep-alive


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-answer"
        rest += chunk
    return head


def test_a_slow_body_after_an_early_413_keeps_the_connection(
    backend_factory: BackendFactory,
) -> None:
    backend = backend_factory(start=False)
    backend.env["KTRDR_MAX_BODY_BYTES"] = "1024"
    backend.env["KTRDR_KEEP_ALIVE_SECONDS"] = "5"
    backend.start()
    host = f"127.0.0.1:{backend.port}"
    with socket.create_connection(("127.0.0.1", backend.port), timeout=20) as sock:
        sock.sendall(
            f"POST /api/v1/agent/trigger HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {BODY_BYTES}\r\n\r\n".encode()
        )
        assert _answer(sock).startswith(b"HTTP/1.1 413")
        piece = b" " * (BODY_BYTES // PIECES)
        sent = 0
        for _ in range(PIECES):
            sock.sendall(piece)
            sent += len(piece)
            time.sleep(0.5)
        sock.sendall(b" " * (BODY_BYTES - sent))
        sock.sendall(f"GET /api/v1/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert _answer(sock).startswith(b"HTTP/1.1 200")
