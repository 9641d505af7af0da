"""Operations put in a given state for the OperationsService rule tests (no I/O, no mocks)."""

from __future__ import annotations

from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import Operation, OperationType

TRAINING = OperationType.TRAINING
BACKTESTING = OperationType.BACKTESTING
AGENT = OperationType.AGENT_RESEARCH


def running(service: OperationsService, parent: str | None = None) -> Operation:
    op = service.create(TRAINING, parent_operation_id=parent)
    return service.start(op.operation_id)


def running_with_child(service: OperationsService) -> tuple[Operation, Operation]:
    """A running parent and its running child."""
    parent = running(service)
    return parent, running(service, parent=parent.operation_id)


def stored(store: InMemoryOperationStore, operation_id: str) -> Operation:
    op = store.get(operation_id)
    assert op is not None, f"{operation_id} is not in the store"
    return op
