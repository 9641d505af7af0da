"""The backend's own threads, watched: one that dies of an exception says why.

An exception that escapes a daemon thread ends it with a line on stderr and nothing else:
the write-behind flusher or a cancel timer could die at its first wait while /health went
on saying "ok", progress no longer reached the database and cancels were never forced.
So the backend makes its threads here rather than with ``threading.Thread``: each target
runs inside a guard that records the exception, with the thread's name, before the thread
ends, and ``problem()`` sums up what died for /health (``threads_problem``, status
"degraded").

The same guard wraps work handed to a pool (``guarded``): a pool thread survives an
exception, but the work (a job's supervisor, a research cycle) did not, and whatever it
should have recorded is missing; that is recorded too, and re-raised into its future.

Threads belong to a process, so the registry does too: ``THREADS`` is the one the
backend's code uses; a test makes its own ``ThreadRegistry``.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from ktrdr.logging import get_logger

P = ParamSpec("P")
T = TypeVar("T")

# Deaths kept (the first ones: the first is the cause more often than what followed); a
# thread that keeps dying must not grow the backend's memory.
MAX_KEPT = 20


@dataclass(frozen=True)
class ThreadDeath:
    thread: str  # the name it was started with, e.g. "ktrdr-operations-flusher"
    error: str  # "OverflowError: timeout value is too large"
    at: datetime


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ThreadRegistry:
    """Makes watched threads and remembers which of them died, and of what."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deaths: list[ThreadDeath] = []
        self._total = 0

    # ---- making threads
    def thread(
        self, target: Callable[..., object], *, name: str, args: Iterable[Any] = ()
    ) -> threading.Thread:
        """A daemon thread (not yet started) whose death by an exception is recorded."""

        def run(*given: Any) -> None:
            try:
                target(*given)
            except BaseException as exc:  # the thread ends either way: say why first
                self.record(name, exc)

        return threading.Thread(target=run, args=tuple(args), name=name, daemon=True)

    def timer(
        self,
        interval: float,
        function: Callable[..., object],
        *,
        name: str,
        args: Iterable[Any] = (),
    ) -> threading.Timer:
        """A daemon ``threading.Timer`` (not yet started): an exception from its wait (an
        interval no thread can wait) or from ``function`` is recorded."""
        timer = _WatchedTimer(self, interval, function, args=list(args))
        timer.name = name
        timer.daemon = True
        return timer

    def guarded(self, name: str, work: Callable[P, T]) -> Callable[P, T]:
        """``work`` for a pool: an exception escaping it is recorded, then re-raised so
        its future holds it as before."""

        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return work(*args, **kwargs)
            except BaseException as exc:
                self.record(name, exc)
                raise

        return run

    # ---- what died
    def record(self, name: str, exc: BaseException) -> None:
        death = ThreadDeath(name, _describe(exc), datetime.now(UTC))
        with self._lock:
            self._total += 1
            if len(self._deaths) < MAX_KEPT:
                self._deaths.append(death)
        # The traceback as plain text (no locals rendered: they may hold anything).
        get_logger("ktrdr.threads").error(
            "backend thread died",
            thread=name,
            error=death.error,
            exception="".join(traceback.format_exception(exc)).rstrip(),
        )

    def deaths(self) -> list[ThreadDeath]:
        """The first deaths (at most ``MAX_KEPT``), in the order they happened."""
        with self._lock:
            return list(self._deaths)

    def clear(self) -> None:
        """Forget every death: a test that kills a thread on purpose leaves none behind."""
        with self._lock:
            self._deaths.clear()
            self._total = 0

    def problem(self) -> str | None:
        """One line for /health: the first thread that died and why, and how many more
        died after it; None while none has."""
        with self._lock:
            first = self._deaths[0] if self._deaths else None
            more = self._total - 1
        if first is None:
            return None
        text = f"thread {first.thread} died at {first.at:%Y-%m-%d %H:%M:%S}Z: {first.error}"
        return text + (f" (and {more} more)" if more else "")


class _WatchedTimer(threading.Timer):
    def __init__(
        self,
        registry: ThreadRegistry,
        interval: float,
        function: Callable[..., object],
        args: list[Any],
    ) -> None:
        super().__init__(interval, function, args=args)
        self._registry = registry

    def run(self) -> None:
        try:
            super().run()
        except BaseException as exc:
            self._registry.record(self.name, exc)


# The backend process's registry: every long-lived thread of ktrdr is made through it.
THREADS = ThreadRegistry()


def watched_thread(
    target: Callable[..., object], *, name: str, args: Iterable[Any] = ()
) -> threading.Thread:
    """``THREADS.thread``: a daemon thread of the backend whose death /health reports."""
    return THREADS.thread(target, name=name, args=args)
