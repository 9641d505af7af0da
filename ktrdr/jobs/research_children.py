"""A research cycle's children as real operations on this backend's executor, and what the
cycle reads back: bar times to plan over, a backtest's per-bar returns, and the trials
tried before on the same series and range.

``ResearchLauncher`` serves both the classic cycle (one training, one backtest) and the
walk-forward one (many children, each tagged with its role, fold and candidate).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ktrdr.contract.requests import BacktestStartRequest
from ktrdr.data.bars import TimeArray
from ktrdr.errors import JobFailedError
from ktrdr.jobs.backtests import (
    ResolvedBacktest,
    resolve_backtest,
    submit_backtest,
)
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.jobs.pictures import DetailFiles
from ktrdr.jobs.training import submit_training, training_parameters
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.results import (
    TrainingSummary,
    backtest_summary_of,
    research_cycle_summary_of,
    training_summary_of,
)
from ktrdr.research.evaluation import PeriodReturns
from ktrdr.strategies.models import StrategyConfig

# Completed cycles read per page when counting trials (each is read once, then remembered).
TRIALS_PAGE = 500


@dataclass
class TrialLedger:
    """Every candidate a completed cycle of this backend evaluated, by series and range:
    the per-bar validation Sharpes that later cycles' deflated Sharpes count as trials.
    A completed cycle never changes, so each is read from the store once."""

    jobs: JobDependencies
    _seen: dict[str, tuple[str | None, tuple[float, ...]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def trials(self, trial_key: str) -> list[float]:
        service = self.jobs.service
        with self._lock:
            offset = 0
            while True:
                rows, total = service.list_operations(
                    status=OperationStatus.COMPLETED,
                    operation_type=OperationType.AGENT_RESEARCH,
                    limit=TRIALS_PAGE,
                    offset=offset,
                )
                fresh = [r for r in rows if r.operation_id not in self._seen]
                for row in fresh:
                    self._seen[row.operation_id] = _trials_of(service.get(row.operation_id))
                offset += len(rows)
                if not rows or offset >= total:
                    break
            return [s for key, sharpes in self._seen.values() if key == trial_key for s in sharpes]


def _trials_of(cycle: Operation) -> tuple[str | None, tuple[float, ...]]:
    summary = research_cycle_summary_of(cycle)
    if summary is None or summary.walk_forward is None:
        return None, ()
    sharpes = tuple(
        c.validation_sharpe_per_bar
        for c in summary.candidates
        if c.validation_sharpe_per_bar is not None and c.failed is None
    )
    return summary.walk_forward.trial_key, sharpes


@dataclass
class ResearchLauncher:
    """The cycle's trainings and backtests as real operations on this backend's executor."""

    jobs: JobDependencies
    ledger: TrialLedger | None = None
    # A backtest is resolved when it is created and run when it is submitted.
    _backtests: dict[str, ResolvedBacktest] = field(default_factory=dict)
    _details: DetailFiles = field(default_factory=lambda: DetailFiles(capacity=2))

    # ---- the classic cycle (ChildLauncher)
    def create_training(
        self,
        strategy: StrategyConfig,
        parent_operation_id: str,
        parameters: Mapping[str, object] | None = None,
    ) -> str:
        recorded = training_parameters(strategy)
        return self.jobs.create_operation(
            OperationType.TRAINING, recorded, parent_operation_id, parameters
        )

    def submit_training(self, operation_id: str, strategy: StrategyConfig) -> None:
        submit_training(self.jobs, operation_id, strategy)

    def create_backtest(self, training_summary: Mapping[str, Any], parent_operation_id: str) -> str:
        return self._backtest(TrainingSummary.read(training_summary), parent_operation_id, 1.0)

    def submit_backtest(self, operation_id: str) -> None:
        submit_backtest(self.jobs, operation_id, self._backtests.pop(operation_id))

    # ---- the walk-forward cycle (WalkForwardLauncher)
    def bar_times(self, symbol: str, timeframe: str) -> TimeArray:
        return self.jobs.market.bar_times(symbol, timeframe)

    def create_fold_backtest(
        self, training: Operation, parent: str, costs: float, parameters: Mapping[str, object]
    ) -> str:
        """A backtest of ``training``'s model at ``costs`` times the usual costs."""
        return self._backtest(training_summary_of(training), parent, costs, parameters)

    def period_returns(self, backtest: Operation) -> PeriodReturns:
        summary = backtest_summary_of(backtest)
        if summary is None or not summary.detail_path:
            raise JobFailedError(f"Backtest {backtest.operation_id} recorded no detail file")
        detail = self._details.load(Path(summary.detail_path))
        if detail.buy_and_hold is None:
            raise JobFailedError(f"Backtest {backtest.operation_id} has no buy-and-hold curve")
        return PeriodReturns.of_equity(detail.equity, detail.buy_and_hold, detail.initial_capital)

    def earlier_trials(self, trial_key: str) -> list[float]:
        return self.ledger.trials(trial_key) if self.ledger is not None else []

    # ---- shared
    def _backtest(
        self,
        trained: TrainingSummary | None,
        parent_operation_id: str,
        cost_multiplier: float,
        parameters: Mapping[str, object] | None = None,
    ) -> str:
        if trained is None or not trained.model_path:
            raise JobFailedError("The training finished without recording where its model is")
        resolved = resolve_backtest(self.jobs, BacktestStartRequest(model=trained.model_path))
        if cost_multiplier != 1.0:
            resolved = resolved.with_costs(cost_multiplier)
        operation_id = self.jobs.create_operation(
            OperationType.BACKTESTING, resolved.parameters(), parent_operation_id, parameters
        )
        self._backtests[operation_id] = resolved
        return operation_id
