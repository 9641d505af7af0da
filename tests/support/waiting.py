"""Waiting in tests: the one polling loop, with a deadline, and the reads built on it.

``wait_until`` answers whether the condition came true, so each caller asserts with its own
message. Loops that measure how long something took (a cancel within a second) keep their own
clock and do not use this.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation, OperationStatus

T = TypeVar("T")


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Polls ``condition`` until it holds or ``timeout`` seconds pass; True if it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    # One last look: a condition that came true during the final sleep still counts.
    return condition()


def wait_for_value(
    read: Callable[[], T],
    holds: Callable[[T], bool],
    timeout: float = 5.0,
    what: str = "the condition",
    interval: float = 0.01,
) -> T:
    """Reads until ``holds`` accepts a value and returns that value (not a later read)."""
    latest: list[T] = []

    def accepted() -> bool:
        latest[:] = [read()]
        return holds(latest[0])

    if not wait_until(accepted, timeout, interval):
        raise AssertionError(f"{what} not met in {timeout}s: {latest[0]}")
    return latest[0]


def wait_for(
    service: OperationsService,
    operation_id: str,
    condition: Callable[[Operation], bool],
    timeout: float,
    what: str = "the condition",
) -> Operation:
    return wait_for_value(
        lambda: service.get(operation_id), condition, timeout, f"{operation_id}: {what}", 0.005
    )


def finished(service: OperationsService, operation_id: str, timeout: float = 10.0) -> Operation:
    return wait_for(service, operation_id, lambda op: op.is_terminal, timeout, "finished")


def finished_over_http(
    http: httpx.Client, operation_id: str, timeout: float = 120.0, interval: float = 0.02
) -> dict[str, Any]:
    """The operation's wire data once it has ended (``http`` is based at ``/api/v1``)."""

    def read() -> dict[str, Any]:
        data: dict[str, Any] = http.get(f"/operations/{operation_id}").json()["data"]
        return data

    return wait_for_value(
        read,
        lambda op: OperationStatus(op["status"]).is_terminal,
        timeout,
        f"{operation_id} finished",
        interval,
    )
