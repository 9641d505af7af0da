"""Short calls for tests that drive an OperationsService's progress by hand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ktrdr.operations.progress import ProgressUpdate
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation


def report(
    service: OperationsService,
    operation_id: str,
    percentage: float,
    current_step: str | None = None,
    *,
    items_processed: int | None = None,
    items_total: int | None = None,
    context: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> int:
    """One progress report; returns the new version (what the service returns)."""
    update = ProgressUpdate(percentage, current_step, items_processed, items_total, context)
    return service.update_progress(operation_id, update, parameters=parameters)


def progress(
    service: OperationsService,
    operation_id: str,
    percentage: float,
    current_step: str | None = None,
    **fields: Any,
) -> Operation:
    """One progress report, then the operation as it stands after it."""
    report(service, operation_id, percentage, current_step, **fields)
    return service.get(operation_id)
