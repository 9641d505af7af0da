"""The status moves property tests draw by name, each applied to one operation of a service.

A refused move raises the service's own error (a ``KtrdrError``); the tests decide whether
that is part of the history they generate."""

from __future__ import annotations

from collections.abc import Callable

from ktrdr.operations.service import OperationsService

STATUS_MOVES: dict[str, Callable[[OperationsService, str], object]] = {
    "start": lambda service, op_id: service.start(op_id),
    "complete": lambda service, op_id: service.complete(op_id),
    "fail": lambda service, op_id: service.fail(op_id, "boom"),
    "cancel": lambda service, op_id: service.cancel(op_id),
    # The worker acknowledging a cancel (or stopping on its own).
    "ack": lambda service, op_id: service.finish_cancelled(op_id, stopped_at="here"),
}
