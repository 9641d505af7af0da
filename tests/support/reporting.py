"""A ProgressReporter for engine tests that keeps every report it was given."""

from __future__ import annotations

from typing import Any

from ktrdr.operations.progress import ProgressUpdate


class RecordingReporter:
    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []

    def report(self, update: ProgressUpdate) -> None:
        self.reports.append(
            {
                "percentage": update.percentage,
                "current_step": update.current_step,
                "items_processed": update.items_processed,
                "items_total": update.items_total,
                "context": dict(update.context or {}),
            }
        )
