"""Cooperative cancellation: one token per operation, checked by the worker between steps."""

from __future__ import annotations

import threading


class CancellationRequested(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a worker's checkpoint when its operation was asked to stop.

    ``where`` says where the work stopped ("Epoch 67/100", "Bar 2,400/5,000") so the
    operation's result can record it.
    """

    def __init__(self, where: str = "", reason: str = "") -> None:
        super().__init__(where or "cancelled")
        self.where = where
        self.reason = reason


class CancellationToken:
    """Thread-safe flag shared between the OperationsService and the worker doing the job."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason = ""

    def cancel(self, reason: str = "Cancelled by user") -> None:
        if not self._event.is_set():
            self._reason = reason
            self._event.set()

    @property
    def is_cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str:
        return self._reason

    def raise_if_cancelled(self, where: str = "") -> None:
        if self._event.is_set():
            raise CancellationRequested(where=where, reason=self._reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or ``timeout`` passes; returns whether it was cancelled."""
        return self._event.wait(timeout)
