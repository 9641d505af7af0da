"""Research cycles: start them (at most KTRDR_MAX_ACTIVE_CYCLES at once, one by default),
and say how the current one is doing.

A cycle runs in ``AgentResearchWorker``; this module picks its designer from Settings,
gives it a child launcher that starts real trainings and backtests through
``ktrdr.jobs.training`` / ``ktrdr.jobs.backtests``, and hands it to the executor.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ktrdr.agents.design.base import StrategyDesigner
from ktrdr.agents.design.builtin import DEFAULT_SYMBOL, DEFAULT_TIMEFRAME
from ktrdr.agents.design.given import GivenStrategyDesigner
from ktrdr.agents.design.llm import make_designer
from ktrdr.agents.phases import CHILD_ID_KEY, Phase
from ktrdr.agents.workers.research_worker import (
    AgentResearchWorker,
    CycleDependencies,
    CycleRequest,
)
from ktrdr.config import Settings
from ktrdr.contract.requests import AgentTriggerRequest
from ktrdr.errors import CycleAlreadyActiveError, InvalidRequestError
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.jobs.research_children import ResearchLauncher, TrialLedger
from ktrdr.jobs.research_shape import (
    ShapeChoices,
    check_plan,
    given_strategy,
    research_shape,
    shape_parameters,
)
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.strategies.models import StrategyConfig, check_training_size
from ktrdr.strategies.window import fit_window, series_for_cycle

SEED_RANGE = 1_000_000


def new_seed() -> int:
    """The seed of a cycle that was not given one (the designers vary with it)."""
    return secrets.randbelow(SEED_RANGE)


@dataclass(frozen=True)
class ResearchStatus:
    """The active cycle and its running child, or (``active`` False) the last cycle."""

    active: bool
    cycle: Operation | None
    child: Operation | None


class ResearchCycles:
    """Triggers research cycles (up to ``max_active_cycles`` at once) and reports on them."""

    def __init__(self, jobs: JobDependencies, settings: Settings) -> None:
        self._jobs = jobs
        self._service = jobs.service
        self._settings = settings
        # Checking for an active cycle and creating one must be one step.
        self._lock = threading.Lock()
        self._ledger = TrialLedger(jobs)

    def active_cycles(self) -> list[Operation]:
        """Every open research cycle, running ones first, newest first within each."""
        found: list[Operation] = []
        for status in (OperationStatus.RUNNING, OperationStatus.PENDING):
            ops, _ = self._service.list_operations(
                status=status, operation_type=OperationType.AGENT_RESEARCH, limit=64
            )
            found += [self._service.get(op.operation_id) for op in ops]
        return found

    def active_cycle(self) -> Operation | None:
        active = self.active_cycles()
        return active[0] if active else None

    def start(self, body: AgentTriggerRequest | None = None) -> Operation:
        """Start the cycle a trigger's body asks for: its strategy and shape checked and
        resolved over the backend's defaults (the one place a body becomes a cycle)."""
        body = body or AgentTriggerRequest()
        strategy = given_strategy(body.strategy, body.strategy_config, self._jobs.strategies_dir)
        shape = research_shape(self._settings, ShapeChoices.of(body), strategy)
        request = CycleRequest(
            seed=body.seed if body.seed is not None else new_seed(),
            symbol=body.symbol.upper() if body.symbol else None,
            timeframe=body.timeframe,
            epochs=body.epochs,
            model=body.model,
            shape=shape,
        )
        batch = (
            {"batch_id": body.batch_id, "batch_size": body.batch_size} if body.batch_id else None
        )
        return self.trigger(request, strategy, batch=batch)

    def trigger(
        self,
        request: CycleRequest | None = None,
        strategy: StrategyConfig | None = None,
        *,
        batch: Mapping[str, Any] | None = None,
    ) -> Operation:
        """Start a cycle. With ``strategy`` (a user's, see ``research_shape.given_strategy``)
        its grid's variants are the candidates instead of a designer's designs; the shape
        must then have been made from it (``research_shape(..., strategy)``). ``batch``: the
        ``--count`` batch it belongs to (``batch_id``, ``batch_size``), kept in its
        parameters for whoever waits for the whole batch (``ktrdr.notify``)."""
        request = request or CycleRequest(seed=new_seed())
        # A bad -m, a missing key or series: refused before anything is created.
        designer = self._designer(request, strategy)
        data = strategy.data if strategy is not None else None
        # A missing or too short series is the caller's mistake (422), not a failed cycle.
        series = series_for_cycle(
            self._jobs.market,
            request.symbol or (data.symbol if data else DEFAULT_SYMBOL),
            request.timeframe or (data.timeframe if data else DEFAULT_TIMEFRAME),
        )
        if request.shape is not None:  # refused now (422) rather than as a failed cycle
            if isinstance(designer, GivenStrategyDesigner):
                check_plan(request.shape, len(series), designer.longest_horizon)
            else:
                check_plan(request.shape, len(series))
        self._jobs.executor.ensure_available()  # its children would have nowhere to run
        with self._lock:
            self._refuse_when_full()
            op = self._service.create(
                OperationType.AGENT_RESEARCH,
                parameters={
                    "phase": Phase.IDLE.value,
                    "seed": request.seed,
                    "model": request.model,
                    "symbol": request.symbol,
                    "timeframe": request.timeframe,
                    "epochs": request.epochs,
                    "designer": designer.name,
                    # Where its children ran: an ETA compares only cycles run alike.
                    "executor": self._settings.executor,
                    "workers": self._settings.workers,
                    **({"strategy": strategy.name} if strategy is not None else {}),
                    **shape_parameters(request.shape),
                    **(batch or {}),
                },
            )
            worker = AgentResearchWorker(
                CycleDependencies(
                    service=self._service,
                    launcher=ResearchLauncher(self._jobs, self._ledger),
                    designer=designer,
                    fit_train_test_window=self._fit_train_test_window,
                )
            )
            self._jobs.executor.submit_orchestration(
                op.operation_id, lambda: worker.run(op.operation_id, request)
            )
            return self._service.get(op.operation_id)

    def _refuse_when_full(self) -> None:
        """``CycleAlreadyActiveError`` when KTRDR_MAX_ACTIVE_CYCLES cycles are open (call it
        under the lock, with the create that follows)."""
        active = self.active_cycles()
        limit = self._settings.max_active_cycles
        if len(active) < limit:
            return
        first = active[0]
        message = (
            f"A research cycle is already running: {first.operation_id}"
            if limit == 1
            else f"{len(active)} research cycles are already running, the most "
            f"this backend runs at once (KTRDR_MAX_ACTIVE_CYCLES={limit})"
        )
        raise CycleAlreadyActiveError(
            message,
            details={
                "active_operation_id": first.operation_id,
                "active_operation_ids": [op.operation_id for op in active],
                "phase": first.metadata.parameters.get("phase"),
                "max_active_cycles": limit,
            },
        )

    def _designer(self, request: CycleRequest, strategy: StrategyConfig | None) -> StrategyDesigner:
        if strategy is None:
            return make_designer(request.model, self._settings)
        if request.model is not None:
            raise InvalidRequestError(
                "give a strategy or a designer model (-m), not both: a cycle started from a "
                "strategy compares its grid's variants and designs nothing",
                details={"field": "model"},
            )
        designer = GivenStrategyDesigner(strategy)
        candidates = request.shape.candidates if request.shape is not None else 1
        if candidates != len(designer.variants):  # research_shape makes them agree
            raise InvalidRequestError(
                f"strategy {strategy.name!r} makes {len(designer.variants)} candidate(s), "
                f"the cycle asks for {candidates}"
                + ("" if request.shape is not None else " (a grid needs walk-forward folds)"),
                details={"field": "candidates"},
            )
        return designer

    def status(self) -> ResearchStatus:
        cycle = self.active_cycle()
        if cycle is None:
            last, _ = self._service.list_operations(
                operation_type=OperationType.AGENT_RESEARCH, limit=1
            )
            cycle = self._service.get(last[0].operation_id) if last else None
            return ResearchStatus(active=False, cycle=cycle, child=None)
        child: Operation | None = None
        try:
            phase = Phase(cycle.metadata.parameters.get("phase", Phase.IDLE))
        except ValueError:
            phase = Phase.IDLE
        key = CHILD_ID_KEY.get(phase)
        child_id = cycle.metadata.parameters.get(key) if key else None
        if isinstance(child_id, str):
            child = self._service.get(child_id)
        return ResearchStatus(active=True, cycle=cycle, child=child)

    def _fit_train_test_window(self, strategy: StrategyConfig) -> StrategyConfig:
        data = strategy.data
        fitted = fit_window(strategy, self._jobs.market.load(data.symbol, data.timeframe))
        training = self._jobs.market.load(
            data.symbol, data.timeframe, fitted.data.train_start, fitted.data.train_end
        )
        check_training_size(fitted, len(training))  # a design with too many epochs fails here
        return fitted
