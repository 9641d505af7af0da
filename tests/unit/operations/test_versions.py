"""The change feed: every change bumps the version by one, rejected calls bump nothing, and
wait_for_change wakes on the next version."""

from __future__ import annotations

import math
import threading

import pytest

from ktrdr.errors import ConflictError, InvalidRequestError
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation
from tests.support.progress import progress, report
from tests.unit.operations.arrange import AGENT, TRAINING, running


def test_version_goes_up_by_exactly_one_per_change(service: OperationsService) -> None:
    op = service.create(TRAINING)
    versions = [op.version]

    def step(result: Operation | int) -> None:
        version = result if isinstance(result, int) else result.version
        assert version == versions[-1] + 1
        assert service.get(op.operation_id).version == version
        versions.append(version)

    step(service.update_parameters(op.operation_id, {"a": 1}))
    step(service.start(op.operation_id))
    step(progress(service, op.operation_id, 10, "one"))
    step(progress(service, op.operation_id, 5, "lower still changes the step"))
    step(report(service, op.operation_id, 20))
    step(progress(service, op.operation_id, 30, parameters={"b": 2}))
    step(service.update_parameters(op.operation_id, {"c": 3}))
    step(service.cancel(op.operation_id))
    step(progress(service, op.operation_id, 35))
    step(service.finish_cancelled(op.operation_id, stopped_at="there"))
    assert versions == list(range(1, 12))

    for end in ("complete", "fail"):
        other = running(service)
        if end == "complete":
            assert service.complete(other.operation_id).version == other.version + 1
        else:
            assert service.fail(other.operation_id, "x").version == other.version + 1


def test_rejected_calls_leave_the_version_alone(service: OperationsService) -> None:
    op = running(service)
    before = service.get(op.operation_id)
    for bad in (math.nan, -5, 250):
        with pytest.raises(InvalidRequestError):
            progress(service, op.operation_id, bad)
    with pytest.raises(ConflictError):
        service.start(op.operation_id)
    assert service.get(op.operation_id) == before


def test_update_parameters_merges(service: OperationsService) -> None:
    op = service.create(AGENT, parameters={"symbol": "SP500", "phase": "idle"})
    service.update_parameters(op.operation_id, {"phase": "designing", "seed": 7})
    service.start(op.operation_id)
    merged = progress(
        service, op.operation_id, 10, "Training", parameters={"training_op_id": "op_t"}
    )
    assert merged.metadata.parameters == {
        "symbol": "SP500",
        "phase": "designing",
        "seed": 7,
        "training_op_id": "op_t",
    }
    done = service.complete(op.operation_id, parameters={"phase": "completed"})
    assert done.metadata.parameters["phase"] == "completed"
    assert done.metadata.parameters["training_op_id"] == "op_t"


def test_wait_for_change_returns_the_newer_version(service: OperationsService) -> None:
    op = running(service)
    timer = threading.Timer(0.05, report, args=(service, op.operation_id, 40))
    timer.start()
    try:
        newer = service.wait_for_change(op.operation_id, op.version, timeout=5)
    finally:
        timer.join()
    assert newer.version == op.version + 1
    assert newer.progress.percentage == 40.0
    unchanged = service.wait_for_change(op.operation_id, newer.version, timeout=0.01)
    assert unchanged.version == newer.version
