"""Property tests of a walk-forward cycle: many children at once, against the real service.

A scripted launcher runs every child in a pool of worker threads (so several run at once,
in whatever order the threads make), each reporting a few steps and then completing or
failing as drawn; a cancel of the cycle may come at any moment. Every saved version of
every operation is recorded, and the cycle's whole history must hold the seed's rules:
its percentage never goes down, it is exactly the phase table's while running, 100 only
on completion, and no child is left open once the cycle has ended (after a cancel, every
child is cancelled or had completed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ktrdr.agents.workers.research_worker import (
    AgentResearchWorker,
    CycleDependencies,
    CycleRequest,
)
from ktrdr.agents.workers.walk_forward import ResearchShape
from ktrdr.data.bars import TimeArray
from ktrdr.errors import KtrdrError
from ktrdr.operations.execution import start_queued
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.research.evaluation import PeriodReturns
from ktrdr.research.walkforward import WalkForwardSpec
from ktrdr.strategies.models import StrategyConfig
from tests.property.test_research_cycle_properties import check_cycle_history
from tests.support.progress import report
from tests.support.research_fakes import FakeDesigner, RecordingStore

BARS = 1500


@dataclass
class ThreadedLauncher:
    """Children as jobs on a pool of threads; each fails when its number is drawn."""

    service: OperationsService
    failing: frozenset[int]
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(3))
    made: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def bar_times(self, symbol: str, timeframe: str) -> TimeArray:
        start = np.datetime64("2001-01-01", "D")
        return (start + np.arange(BARS)).astype("datetime64[s]")

    def _create(self, kind: OperationType, parent: str, parameters: dict[str, object]) -> str:
        op = self.service.create(kind, parent_operation_id=parent, parameters=parameters)
        with self._lock:
            self.made.append(op.operation_id)
        return op.operation_id

    def create_training(
        self,
        strategy: StrategyConfig,
        parent_operation_id: str,
        parameters: dict[str, object] | None = None,
    ) -> str:
        return self._create(OperationType.TRAINING, parent_operation_id, parameters or {})

    def create_backtest(self, training_summary: Mapping[str, Any], parent_operation_id: str) -> str:
        raise AssertionError("a walk-forward cycle never asks for the classic cycle's backtest")

    def submit_training(self, operation_id: str, strategy: StrategyConfig) -> None:
        self.pool.submit(self._run, operation_id, {"model_path": "/m", "val_accuracy": 0.5})

    def create_fold_backtest(
        self,
        training: Operation,
        parent_operation_id: str,
        cost_multiplier: float,
        parameters: dict[str, object],
    ) -> str:
        return self._create(OperationType.BACKTESTING, parent_operation_id, parameters)

    def submit_backtest(self, operation_id: str) -> None:
        summary: dict[str, object] = {
            "metrics": {
                "sharpe_ratio": 0.5,
                "total_return": 0.1,
                "max_drawdown": 0.1,
                "win_rate": 0.5,
                "num_trades": 12,
                "exposure": 0.5,
            },
            "benchmark": {"sharpe_ratio": 0.4, "total_return": 0.08},
        }
        self.pool.submit(self._run, operation_id, summary)

    def period_returns(self, backtest: Operation) -> PeriodReturns:
        rng = np.random.default_rng(abs(hash(backtest.operation_id)) % 2**32)
        return PeriodReturns(rng.normal(0, 0.01, 120), rng.normal(0, 0.01, 120))

    def earlier_trials(self, trial_key: str) -> list[float]:
        return []

    def _run(self, operation_id: str, summary: dict[str, object]) -> None:
        service = self.service
        try:
            if not start_queued(service, operation_id):
                return  # cancelled while it waited its turn
            token = service.token(operation_id)
            number = self.made.index(operation_id)
            for step in range(1, 4):
                if token.is_cancelled:
                    service.finish_cancelled(operation_id, stopped_at=f"Step {step - 1}/3")
                    return
                report(service, operation_id, step / 3 * 100, f"Step {step}/3")
                time.sleep(0.001)
            if number in self.failing:
                service.fail(operation_id, "scripted failure")
            else:
                service.complete(operation_id, summary)
        except KtrdrError:
            return  # ended meanwhile (e.g. a forced cancel): terminal states never change


def _cancel_if_open(service: OperationsService, operation_id: str) -> None:
    try:
        service.cancel(operation_id)
    except KtrdrError:
        pass  # the cycle ended before the cancel came: nothing to cancel


@settings(max_examples=25, deadline=None)
@given(
    folds=st.integers(min_value=1, max_value=3),
    candidates=st.integers(min_value=1, max_value=4),
    failing=st.frozensets(st.integers(min_value=0, max_value=40), max_size=4),
    cancel_after=st.one_of(st.none(), st.floats(min_value=0.0, max_value=0.05)),
)
def test_a_walk_forward_cycle_keeps_the_seed_rules_with_many_children(
    folds: int, candidates: int, failing: frozenset[int], cancel_after: float | None
) -> None:
    store = RecordingStore()
    service = OperationsService(store, cancel_grace_seconds=30)
    parent = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "idle"})
    service.start(parent.operation_id)
    launcher = ThreadedLauncher(service, failing)
    worker = AgentResearchWorker(
        CycleDependencies(
            service=service,
            launcher=launcher,
            designer=FakeDesigner(service, "ok", parent_id=parent.operation_id),
        )
    )
    shape = ResearchShape(candidates, WalkForwardSpec(folds=folds, purge_bars=5), patience=3)
    timer = None
    if cancel_after is not None:
        timer = threading.Timer(cancel_after, _cancel_if_open, args=(service, parent.operation_id))
        timer.start()
    try:
        worker.run(parent.operation_id, CycleRequest(seed=1, shape=shape))
    finally:
        if timer is not None:
            timer.join()
        launcher.pool.shutdown(wait=True)

    final = service.get(parent.operation_id)
    children = [service.get(c) for c in launcher.made]
    history = store.history[parent.operation_id]
    # The seed's rules for the parent; children that failed on their own are judged below.
    check_cycle_history(history, [c for c in children if c.status is not OperationStatus.FAILED])
    assert all(c.is_terminal for c in children), "a child was left open"
    assert len({c.operation_id for c in children}) == len(children)
    if final.status is OperationStatus.COMPLETED:
        context = final.progress.context
        assert set(context["child_op_ids"]) == set(launcher.made)
        summary = final.result_summary or {}
        assert summary["statistics"]["deflated_sharpe"]["trials"] >= 1
    if final.status is OperationStatus.CANCELLED:
        asked = next(v.updated_at for v in history if v.cancel_requested)
        for child in children:
            if child.status is OperationStatus.FAILED:
                # A child fails only on its own: before the cancel, or racing it (its job
                # failed before it looked at its token again).
                assert child.completed_at is not None
                assert child.completed_at <= asked or child.cancel_requested
        assert (final.result_summary or {}).get("stopped_at")
    if cancel_after is None and not failing:
        assert final.status is OperationStatus.COMPLETED, final.error_message
    service.close()
