"""Reads of many operations: the list (newest first, filters, paging, total) and a parent's
direct children."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ktrdr.errors import InvalidRequestError
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import Operation, OperationStatus
from ktrdr.records.summary import OperationSummary
from tests.unit.operations.arrange import AGENT, BACKTESTING, TRAINING


class SteppingClock:
    """Every reading is one second after the previous one, so creation order is explicit."""

    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clocked() -> Iterator[OperationsService]:
    svc = OperationsService(InMemoryOperationStore(), clock=SteppingClock())
    yield svc
    svc.close()


def _ids(ops: Iterable[Operation | OperationSummary]) -> list[str]:
    return [op.operation_id for op in ops]


def test_list_is_newest_first_with_filters_paging_and_total(
    clocked: OperationsService,
) -> None:
    svc = clocked
    agent = svc.start(svc.create(AGENT).operation_id)
    training = svc.start(svc.create(TRAINING, parent_operation_id=agent.operation_id).operation_id)
    svc.complete(training.operation_id)
    backtest = svc.create(BACKTESTING, parent_operation_id=agent.operation_id)
    lone = svc.create(TRAINING)
    svc.fail(lone.operation_id, "x")
    newest_first = [lone, backtest, training, agent]

    page, total = svc.list_operations()
    assert _ids(page) == _ids(newest_first) and total == 4
    page, total = svc.list_operations(limit=2, offset=1)
    assert _ids(page) == _ids(newest_first[1:3]) and total == 4
    page, total = svc.list_operations(limit=2, offset=10)
    assert page == [] and total == 4
    page, total = svc.list_operations(limit=0)
    assert page == [] and total == 4

    page, total = svc.list_operations(operation_type=TRAINING)
    assert _ids(page) == _ids([lone, training]) and total == 2
    page, total = svc.list_operations(status=OperationStatus.PENDING)
    assert _ids(page) == [backtest.operation_id] and total == 1
    page, total = svc.list_operations(status=OperationStatus.COMPLETED, operation_type=TRAINING)
    assert _ids(page) == [training.operation_id] and total == 1
    page, total = svc.list_operations(parent_operation_id=agent.operation_id)
    assert _ids(page) == _ids([backtest, training]) and total == 2
    page, total = svc.list_operations(status=OperationStatus.CANCELLED)
    assert page == [] and total == 0

    with pytest.raises(InvalidRequestError):
        svc.list_operations(limit=-1)
    with pytest.raises(InvalidRequestError):
        svc.list_operations(offset=-1)


def test_children_are_the_direct_children_oldest_first(clocked: OperationsService) -> None:
    svc = clocked
    parent = svc.start(svc.create(AGENT).operation_id)
    first = svc.create(TRAINING, parent_operation_id=parent.operation_id)
    second = svc.create(BACKTESTING, parent_operation_id=parent.operation_id)
    svc.start(first.operation_id)
    svc.create(BACKTESTING, parent_operation_id=first.operation_id)  # a grandchild
    svc.create(TRAINING)

    kids = svc.children(parent.operation_id)
    assert _ids(kids) == [first.operation_id, second.operation_id]
    assert all(k.parent_operation_id == parent.operation_id for k in kids)
    assert svc.children(second.operation_id) == []
