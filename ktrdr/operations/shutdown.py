"""The shutdown rules of the OperationsService: from the stop signal on, no new work is
taken; at the end, every open operation ends as interrupted by the shutdown (cancelled when
a cancel was acknowledged, as a restart would find it) and its worker is told to stop.

``OperationsService`` inherits these; ``shut_down`` runs under its lock like every change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ktrdr.errors import ShuttingDownError
from ktrdr.logging import operation_logger
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.index import OperationIndex
from ktrdr.operations.recovery import SHUTDOWN, cancel_was_requested, stop_changes
from ktrdr.records.models import Operation


class ShutdownRules:
    _lock: threading.RLock
    _index: OperationIndex
    _tokens: dict[str, CancellationToken]
    _clock: Callable[[], datetime]
    _shutting_down: bool

    def _end(self, op: Operation, now: datetime, **changes: Any) -> Operation:
        raise NotImplementedError

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def stop_accepting(self) -> None:
        """Refuse new work from now on (``create`` raises ``ShuttingDownError``). It only
        sets a flag, so a signal handler may call it even while its thread holds the lock."""
        self._shutting_down = True

    def shut_down(self) -> list[str]:
        """Refuse new work, then end every open operation as interrupted by the shutdown and
        cancel its token so its worker stops instead of running on unrecorded. Returns the
        ids it ended."""
        self.stop_accepting()
        with self._lock:
            found = self._index.open_operations()
            # Decided before anything ends: each is judged on what the API had answered.
            cancelled = {op.operation_id: cancel_was_requested(op, self._known) for op in found}
            now = self._clock()
            for op in found:
                token = self._tokens.get(op.operation_id)
                if token is not None:
                    token.cancel(SHUTDOWN.message)
                changes = stop_changes(op, cancelled[op.operation_id], SHUTDOWN)
                self._end(op, now, **changes)
                operation_logger(op.operation_id).warning(
                    "operation ended by the shutdown", status=changes["status"].value
                )
            return [op.operation_id for op in found]

    def _refuse_if_shutting_down(self) -> None:
        if self._shutting_down:
            raise ShuttingDownError(
                "The backend is shutting down and takes no new work; start it again (or "
                "wait for it to come back) and retry."
            )

    def _known(self, operation_id: str) -> Operation | None:
        return self._index.cached(operation_id) or self._index.load(operation_id)
