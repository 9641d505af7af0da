"""How work reports progress: engines see only this Protocol, never the service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """One progress report: ``percentage`` is 0-100 for the unit of work reporting it.

    A plain value, so it crosses a thread, a process queue or a cluster unchanged.
    ``context`` (e.g. the latest epoch's loss) replaces the previous one when given.
    """

    percentage: float
    current_step: str | None = None
    items_processed: int | None = None
    items_total: int | None = None
    context: Mapping[str, Any] | None = None


class ProgressReporter(Protocol):
    def report(self, update: ProgressUpdate) -> None:
        """Record progress."""
        ...


class NullProgressReporter:
    """Discards every report (used when work runs outside an operation, e.g. benchmarks)."""

    def report(self, update: ProgressUpdate) -> None:
        del update
