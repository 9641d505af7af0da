"""Waiting on an in-process OperationsService in tests, with a deadline and a clear failure."""

from __future__ import annotations

import time
from collections.abc import Callable

from ktrdr.operations.models import Operation
from ktrdr.operations.service import OperationsService


def wait_for(
    service: OperationsService,
    operation_id: str,
    condition: Callable[[Operation], bool],
    timeout: float,
    what: str = "the condition",
) -> Operation:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = service.get(operation_id)
        if condition(op):
            return op
        time.sleep(0.005)
    raise AssertionError(
        f"{operation_id}: {what} not met in {timeout}s: {service.get(operation_id)}"
    )


def finished(service: OperationsService, operation_id: str, timeout: float = 10.0) -> Operation:
    return wait_for(service, operation_id, lambda op: op.is_terminal, timeout, "finished")
