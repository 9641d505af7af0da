"""How work reports progress: engines see only this Protocol, never the service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ProgressReporter(Protocol):
    def report(
        self,
        percentage: float,
        current_step: str,
        *,
        items_processed: int | None = None,
        items_total: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Record progress. ``percentage`` is 0-100 for this unit of work."""
        ...


class NullProgressReporter:
    """Discards every report (used when work runs outside an operation, e.g. benchmarks)."""

    def report(
        self,
        percentage: float,
        current_step: str,
        *,
        items_processed: int | None = None,
        items_total: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        del percentage, current_step, items_processed, items_total, context
