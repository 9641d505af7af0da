"""A research cycle's ETA on a real backend (the app under uvicorn on loopback, the thread
executor, real trainings and backtests): three small cycles complete, and the fourth has
an ETA in its very first read, on every read that shows a running cycle."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ktrdr.contract.operations import AgentStatusPublic, OperationPublic, TreePublic
from tests.support.served import Served, served_in_process

# The history: small cycles (a fraction of a second each). The fourth trains three times
# longer (its ETA scales the history's training by its epochs), so that it still runs at
# its first read.
HISTORY_EPOCHS, FOURTH_EPOCHS = 20, 60


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_in_process(tmp_path / "data", workers=2) as server:
        yield server


def _trigger(http: httpx.Client, seed: int, epochs: int = HISTORY_EPOCHS) -> str:
    reply = http.post("/agent/trigger", json={"folds": 0, "epochs": epochs, "seed": seed})
    assert reply.status_code == 202, reply.text
    operation_id: str = reply.json()["data"]["operation_id"]
    return operation_id


def _read(http: httpx.Client, operation_id: str) -> OperationPublic:
    reply = http.get(f"/operations/{operation_id}")
    assert reply.status_code == 200, reply.text
    return OperationPublic.model_validate(reply.json()["data"])


def _until_ended(http: httpx.Client, operation_id: str) -> OperationPublic:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        op = _read(http, operation_id)
        if op.is_terminal:
            return op
        time.sleep(0.05)
    raise AssertionError(f"{operation_id} did not end")


def test_the_fourth_comparable_cycle_has_an_eta_in_its_first_read(served: Served) -> None:
    with httpx.Client(base_url=served.api, timeout=10) as http:
        first = _trigger(http, 1)
        assert _read(http, first).eta_seconds is None  # nothing to learn from yet
        second = _trigger_after(http, first, 2)
        third = _trigger_after(http, second, 3)
        done = _until_ended(http, third)
        assert done.status.value == "completed", done.error_message
        assert done.eta_seconds is None and done.overdue is None  # an ended cycle has none

        fourth = _trigger(http, 4, FOURTH_EPOCHS)
        read = _read(http, fourth)
        tree = TreePublic.model_validate(http.get(f"/operations/{fourth}/tree").json()["data"])
        status = AgentStatusPublic.model_validate(http.get("/agent/status").json()["data"])
        ended = _until_ended(http, fourth)

    assert not read.is_terminal, "the cycle ended before its first read: make it longer"
    assert read.eta_seconds is not None and read.eta_low is not None
    assert read.eta_high is not None and read.overdue is not None
    assert 0.0 <= read.eta_low <= read.eta_seconds <= read.eta_high
    # The three before it took about a second each: the fourth, a few at most.
    assert read.eta_seconds < 60.0
    assert read.progress.percentage <= 20.0  # the bar stays the phase table's
    root = tree.operations[0]
    assert root.operation_id == fourth
    if not root.is_terminal:
        assert root.eta_seconds is not None
    assert all(op.eta_seconds is None for op in tree.operations[1:])  # children have none
    if status.cycle is not None and status.cycle.operation_id == fourth and status.active:
        assert status.cycle.eta_seconds is not None
    assert ended.status.value == "completed" and ended.eta_seconds is None
    history = served.runtime.cycle_etas.history if served.runtime.cycle_etas else ()
    assert len(history) == 4  # each completed cycle joined it as it ended


def _trigger_after(http: httpx.Client, previous: str, seed: int) -> str:
    """The next cycle once ``previous`` has completed (one cycle runs at a time)."""
    done = _until_ended(http, previous)
    assert done.status.value == "completed", done.error_message
    return _trigger(http, seed)
