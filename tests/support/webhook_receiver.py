"""A real webhook receiver on loopback for tests and benchmarks: a threading HTTP server
that records every request (headers, raw body, arrival time) and answers as told.

``answers`` is consumed one status per request (then ``then`` for every later one);
``hang`` holds each request until ``release`` (or the server closes), the way a dead
receiver that accepts the connection and never answers would."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    arrived_at: float  # time.time() when the body was read
    answered: int  # the status it got

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Behaviour:
    answers: list[int] = field(default_factory=list)
    then: int = 204
    hang: bool = False


class WebhookReceiver:
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                arrived = time.time()
                status = receiver._answer()
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._arrived:  # recorded on arrival, before any hang
                    receiver.received.append(Received(headers, body, arrived, status))
                    receiver._arrived.notify_all()
                if receiver.behaviour.hang:
                    receiver._released.wait()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass  # quiet tests

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/s3cr3t-path-token"

    def _answer(self) -> int:
        with self._lock:
            if self.behaviour.answers:
                return self.behaviour.answers.pop(0)
            return self.behaviour.then

    def release(self) -> None:
        self._released.set()

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """The requests so far once at least ``count`` arrived (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            return list(self.received)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.close()
