"""The bridge from engines (which see a ProgressReporter) to the OperationsService."""

from __future__ import annotations

from ktrdr.errors import ConflictError
from ktrdr.operations.progress import ProgressUpdate
from ktrdr.operations.service import OperationsService


class OperationProgressReporter:
    """Reports one operation's progress; late reports after it ended are dropped quietly.

    A worker may still be finishing its last epoch when a forced cancel ends the
    operation; that report is simply no longer wanted, not an error for the worker.
    """

    def __init__(self, service: OperationsService, operation_id: str) -> None:
        self._service = service
        self.operation_id = operation_id

    def report(self, update: ProgressUpdate) -> None:
        try:
            self._service.update_progress(self.operation_id, update)
        except ConflictError:
            return
