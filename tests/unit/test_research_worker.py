from __future__ import annotations

import pytest

from ktrdr.agents.workers.research_worker import (
    AgentResearchWorker,
    CycleDependencies,
    CycleRequest,
)
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation, OperationStatus, OperationType
from tests.support.research_fakes import (
    ChildOutcome,
    DesignOutcome,
    FakeDesigner,
    RecordingStore,
    ScriptedLauncher,
)


def run_cycle(
    design: DesignOutcome = "ok",
    training: ChildOutcome = "complete",
    backtest: ChildOutcome = "complete",
) -> tuple[OperationsService, RecordingStore, Operation]:
    store = RecordingStore()
    service = OperationsService(store)
    parent = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "idle"})
    service.start(parent.operation_id)
    designer = FakeDesigner(service, design, parent_id=parent.operation_id)
    launcher = ScriptedLauncher(service, training, backtest)
    worker = AgentResearchWorker(
        CycleDependencies(service=service, launcher=launcher, designer=designer)
    )
    worker.run(parent.operation_id, CycleRequest(seed=3))
    return service, store, service.get(parent.operation_id)


def test_a_full_cycle_completes_with_an_assessed_summary() -> None:
    service, store, cycle = run_cycle()
    assert cycle.status is OperationStatus.COMPLETED
    assert cycle.progress.percentage == 100.0
    summary = cycle.result_summary or {}
    assert summary["strategy_name"] == "fake_3"
    assert summary["verdict"] in ("promising", "neutral", "poor")
    assert summary["sharpe_ratio"] == pytest.approx(1.3)
    assert summary["win_rate"] == pytest.approx(0.58)
    assert summary["max_drawdown"] == pytest.approx(0.12)
    assert summary["trades"] == 24
    assert summary["training"]["accuracy"] == pytest.approx(0.55)
    assert summary["reasons"]
    kids = service.children(cycle.operation_id)
    assert [k.operation_type for k in kids] == [OperationType.TRAINING, OperationType.BACKTESTING]
    assert all(k.status is OperationStatus.COMPLETED for k in kids)
    percentages = [v.progress.percentage for v in store.history[cycle.operation_id]]
    assert sorted(set(percentages)) == [0.0, 5.0, 20.0, 65.0, 90.0, 100.0]


def test_a_failed_training_fails_the_cycle_with_the_childs_error() -> None:
    service, _, cycle = run_cycle(training="fail")
    assert cycle.status is OperationStatus.FAILED
    assert cycle.error_message == "Training failed: scripted failure: loss diverged"
    assert cycle.progress.percentage == 20.0
    assert len(service.children(cycle.operation_id)) == 1


def test_an_invalid_design_fails_the_cycle_with_the_reason() -> None:
    service, _, cycle = run_cycle(design="invalid")
    assert cycle.status is OperationStatus.FAILED
    assert "invalid" in (cycle.error_message or "")
    assert service.children(cycle.operation_id) == []


def test_cancel_during_training_records_the_epoch_and_cancels_the_child() -> None:
    service, _, cycle = run_cycle(training="cancel_parent")
    assert cycle.status is OperationStatus.CANCELLED
    assert (cycle.result_summary or {})["stopped_at"] == "Training stopped at epoch 3/4"
    (row,) = service.children(cycle.operation_id)
    child = service.get(row.operation_id)
    assert child.status is OperationStatus.CANCELLED
    assert (child.result_summary or {})["stopped_at"] == "Epoch 3/4"


def test_cancel_during_backtest_records_the_bar() -> None:
    service, _, cycle = run_cycle(backtest="cancel_parent")
    assert cycle.status is OperationStatus.CANCELLED
    assert (cycle.result_summary or {})["stopped_at"] == "Backtest stopped at bar 750/1,000"
    statuses = [c.status for c in service.children(cycle.operation_id)]
    assert statuses == [OperationStatus.COMPLETED, OperationStatus.CANCELLED]


def test_cancel_during_design_stops_before_any_child() -> None:
    service, _, cycle = run_cycle(design="cancel_parent")
    assert cycle.status is OperationStatus.CANCELLED
    assert "designing" in (cycle.result_summary or {})["stopped_at"]
    assert service.children(cycle.operation_id) == []
