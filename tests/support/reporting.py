"""A ProgressReporter for engine tests that keeps every report it was given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RecordingReporter:
    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []

    def report(
        self,
        percentage: float,
        current_step: str,
        *,
        items_processed: int | None = None,
        items_total: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.reports.append(
            {
                "percentage": percentage,
                "current_step": current_step,
                "items_processed": items_processed,
                "items_total": items_total,
                "context": dict(context or {}),
            }
        )
