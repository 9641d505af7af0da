"""End to end: `ktrdr agent trigger --count 2 -f` in a real pseudo-terminal against a real
backend that allows two cycles at once: one live board with a line per cycle, and Ctrl+C
cancels both cycles and their children."""

from __future__ import annotations

import time

import pexpect
import pytest

from ktrdr.records.models import OperationStatus
from tests.conftest import BackendFactory
from tests.e2e.test_agent_monitor_e2e import finish, spawn_ktrdr, terminal_children

pytestmark = pytest.mark.e2e

__all__ = ["terminal_children"]  # the fixture, shared with the single-cycle tests


def test_two_cycles_on_one_board_and_ctrl_c_cancels_both(
    backend_factory: BackendFactory, terminal_children: list[pexpect.spawn]
) -> None:
    backend = backend_factory(start=False)
    backend.env["KTRDR_MAX_ACTIVE_CYCLES"] = "2"
    backend.start()
    child = spawn_ktrdr(
        backend,
        "agent",
        "trigger",
        "--folds",
        "0",
        "--count",
        "2",
        "--seed",
        "5",
        "--epochs",
        "4000",
        "-f",
    )
    terminal_children.append(child)
    child.expect("2 research cycles started")
    # Both lines of the board show a training with its bar.
    child.expect(r"seed 5.*training.*Epoch [\d,]+/4,000")
    child.expect(r"seed 6.*training.*Epoch [\d,]+/4,000")
    child.sendintr()
    sent = time.time()
    child.expect("Cancelling 2 research cycles")
    child.expect(r"0 of 2 research cycles completed")
    assert finish(child) == 130
    with backend.client() as client:
        cycles, _ = client.list_operations(operation_type="agent_research")
        assert len(cycles) == 2
        for row in cycles:
            cycle = client.get_operation(row.operation_id)
            assert cycle.status is OperationStatus.CANCELLED, cycle
            training = client.get_operation(cycle.metadata.parameters["training_op_id"])
            assert training.status is OperationStatus.CANCELLED
            assert cycle.completed_at is not None
            # Both end within moments of Ctrl+C (the cancel cascade, not the 4000 epochs).
            assert cycle.completed_at.timestamp() - sent < 3.0
