"""What the HTTP server itself enforces before the app sees a request, as keyword arguments
for uvicorn (``server_options``): deadlines for reading a request, a connection cap and
rate-limited warnings, so that slow or hostile clients cannot take the backend down.

uvicorn (0.55, h11) times out idle keep-alive connections only: nothing bounds how long a
request's head or body may take, and nothing caps connections at accept. 1,100 half-sent
requests under a 1,024 open-file limit left ``/health`` unanswered, and asyncio's accept
loop then logged a traceback per attempt (~100 MB in 30 s). Its ``limit_concurrency`` does
not help: it counts connections only once a whole head has arrived (half-sent ones escape
it), and at its cap it answers 503 to ``/health`` as well. So:

- ``LimitedH11Protocol``, uvicorn's h11 protocol with deadlines: a request head must be
  whole within ``header_timeout_seconds`` (in all: a byte at a time does not extend it),
  and a body may pause at most ``body_timeout_seconds``; past either the connection closes.
- a connection cap, kept below the open-file limit: at the cap a new connection displaces
  the one that has waited longest for a head (idle keep-alive or half-sent), or gets 503
  when every connection is busy with a request.
- ``RateLimitedLog`` on uvicorn's and asyncio's own warnings.

A backend serving a network still belongs behind a reverse proxy (TLS, per-client limits,
buffering of slow uploads); these limits keep it alive on its own.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import h11
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from ktrdr.config import Settings

# asyncio accepts up to ``backlog`` connections per loop tick before any protocol sees one,
# so a burst can run that far past the cap: the cap leaves two ticks' worth of files, plus
# those the rest of the backend holds (database, log, job workers' pipes, a Dask client).
ACCEPT_BACKLOG = 128
RESERVED_FILES = 128 + 2 * ACCEPT_BACKLOG
MIN_CONNECTIONS = 16

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"

Wait = Literal["head", "body"]  # what the client owes us, when it owes us anything


def open_files_limit() -> int | None:
    """This process's soft limit on open files, None where there is none to read."""
    try:
        import resource
    except ImportError:  # not a Unix: nothing to stay under
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    header_timeout: float
    body_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings, open_files: int | None) -> ConnectionLimits:
        """The configured cap, lowered to fit under ``open_files``: running out of files
        is what made the backend deaf, so the cap must bite first."""
        cap = settings.max_connections
        if open_files is not None:
            cap = max(MIN_CONNECTIONS, min(cap, open_files - RESERVED_FILES))
        return cls(cap, settings.header_timeout_seconds, settings.body_timeout_seconds)


class LimitedH11Protocol(H11Protocol):
    """One connection: follows h11's view of the client (waiting for a head, sending a
    body, or waiting for our answer) and keeps one deadline for the current wait."""

    limits: ClassVar[ConnectionLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting_for: Wait | None = None
        self._waiting_since = 0.0
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow_client()
        self._enforce_cap()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_client()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_client()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._cancel_deadline()  # the socket now belongs to the websocket protocol
        super().handle_websocket_upgrade(event)

    @property
    def waiting_for_head(self) -> bool:
        return self._waiting_for == "head"

    def _follow_client(self) -> None:
        if self.transport.is_closing():
            self._cancel_deadline()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            # Before or inside a head: one deadline from the moment the wait began.
            if self._waiting_for != "head":
                self._wait("head", self.limits.header_timeout)
        elif state is h11.SEND_BODY:
            self._wait("body", self.limits.body_timeout)  # each piece restarts it
        else:
            self._cancel_deadline()  # the client waits for us: our own business
            self._waiting_for = None

    def _wait(self, state: Wait, seconds: float) -> None:
        self._cancel_deadline()
        self._waiting_for = state
        self._waiting_since = time.monotonic()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        started_a_head = self.waiting_for_head and bool(self.conn.trailing_data[0])
        # A 408 only where nothing else was sent for this request.
        self._close(_TIMED_OUT if started_a_head and self.conn.our_state is h11.IDLE else b"")

    def _close(self, answer: bytes) -> None:
        self._cancel_deadline()
        self._waiting_for = None  # no longer a candidate to make room
        if answer:
            self.transport.write(answer)
        self.transport.close()

    def _enforce_cap(self) -> None:
        """Over the cap, the connection that has waited longest for a head makes room;
        when none is waiting, the newcomer is turned away. Connections already closing
        (they leave the set a loop tick later) neither count nor make room again."""
        limited = [c for c in self.connections if isinstance(c, LimitedH11Protocol)]
        closing = sum(1 for c in limited if c.transport.is_closing())
        if len(self.connections) - closing <= self.limits.max_connections:
            return
        waiting = [
            c
            for c in limited
            if c is not self and c.waiting_for_head and not c.transport.is_closing()
        ]
        if waiting:
            min(waiting, key=lambda c: c._waiting_since)._close(b"")
        else:
            self._close(_BUSY)


def protocol_for(limits: ConnectionLimits) -> type[LimitedH11Protocol]:
    """A protocol class bound to ``limits``: uvicorn makes one instance per connection."""

    class BoundLimitedH11Protocol(LimitedH11Protocol):
        pass

    BoundLimitedH11Protocol.limits = limits
    return BoundLimitedH11Protocol


class RateLimitedLog(logging.Filter):
    """At most ``burst`` records of one message (per logger) each ``window`` seconds; the
    first one let through after some were dropped says how many. Whoever can make the server
    warn (malformed requests, exhausting its files) cannot make it fill the disk."""

    MAX_KEYS = 1_000  # messages are templates, so few; a bound all the same

    def __init__(
        self, burst: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._burst, self._window, self._clock = burst, window, clock
        self._seen: dict[tuple[str, str], tuple[float, int, int]] = {}
        self._lock = threading.Lock()  # records arrive from any thread

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = self._clock()
        with self._lock:
            if len(self._seen) >= self.MAX_KEYS and key not in self._seen:
                self._seen.clear()
            start, count, dropped = self._seen.get(key, (now, 0, 0))
            if now - start >= self._window:
                start, count = now, 0
            if count >= self._burst:
                self._seen[key] = (start, count, dropped + 1)
                return False
            self._seen[key] = (start, count + 1, 0)
        if dropped:
            record.msg = f"{record.getMessage()} [{dropped} like it were not logged]"
            record.args = ()
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's own logging set-up with ``RateLimitedLog`` on its handlers and on asyncio's
    logger (whose records reach stderr through logging's last-resort handler)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"rate_limited": {"()": RateLimitedLog}}
    for handler in config["handlers"].values():
        handler["filters"] = ["rate_limited"]
    config["loggers"]["asyncio"] = {"filters": ["rate_limited"]}
    return config


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's keyword arguments for this backend's limits."""
    limits = ConnectionLimits.from_settings(settings, open_files_limit())
    return {
        "http": protocol_for(limits),
        "backlog": ACCEPT_BACKLOG,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "log_config": log_config(),
    }
