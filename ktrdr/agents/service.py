"""ResearchAgent: starts research cycles (one at a time) and reports on them."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ktrdr.agents.design.builtin import DEFAULT_SYMBOL, DEFAULT_TIMEFRAME
from ktrdr.agents.design.llm import make_designer
from ktrdr.agents.phases import CHILD_ID_KEY, Phase
from ktrdr.agents.workers.research_worker import (
    AgentResearchWorker,
    CycleDependencies,
    CycleRequest,
    LocalChildLauncher,
)
from ktrdr.data.market import MarketData
from ktrdr.errors import CycleAlreadyActiveError
from ktrdr.operations.execution import Executor
from ktrdr.operations.models import Operation, OperationStatus, OperationType
from ktrdr.operations.service import OperationsService
from ktrdr.strategies.window import fit_window, series_for_cycle


@dataclass(frozen=True)
class AgentStatus:
    active: bool
    cycle: Operation | None
    child: Operation | None


class ResearchAgent:
    def __init__(
        self,
        service: OperationsService,
        executor: Executor,
        market: MarketData,
        models_dir: Path,
        backtests_dir: Path,
        env: Mapping[str, str],
    ) -> None:
        self._service = service
        self._executor = executor
        self._market = market
        self._models_dir = models_dir
        self._backtests_dir = backtests_dir
        self._env = env
        self._lock = threading.Lock()

    def active_cycle(self) -> Operation | None:
        for status in (OperationStatus.RUNNING, OperationStatus.PENDING):
            ops, _ = self._service.list_operations(
                status=status, operation_type=OperationType.AGENT_RESEARCH, limit=1
            )
            if ops:
                return self._service.get(ops[0].operation_id)
        return None

    def trigger(self, request: CycleRequest | None = None) -> Operation:
        request = request or CycleRequest(seed=secrets.randbelow(1_000_000))
        designer = make_designer(request.model, env=self._env)  # bad -m fails before creating
        # A missing or too short series is the caller's mistake (422), not a failed cycle.
        series_for_cycle(
            self._market, request.symbol or DEFAULT_SYMBOL, request.timeframe or DEFAULT_TIMEFRAME
        )
        with self._lock:
            active = self.active_cycle()
            if active is not None:
                raise CycleAlreadyActiveError(
                    f"A research cycle is already running: {active.operation_id}",
                    details={
                        "active_operation_id": active.operation_id,
                        "phase": active.metadata.parameters.get("phase"),
                    },
                )
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
                },
            )
            launcher = LocalChildLauncher(
                self._service, self._executor, self._market, self._models_dir, self._backtests_dir
            )
            market = self._market
            worker = AgentResearchWorker(
                CycleDependencies(
                    service=self._service,
                    launcher=launcher,
                    designer=designer,
                    fit_data=lambda strategy: fit_window(
                        strategy, market.load(strategy.data.symbol, strategy.data.timeframe)
                    ),
                )
            )
            self._executor.submit_orchestration(
                op.operation_id, lambda: worker.run(op.operation_id, request)
            )
            return self._service.get(op.operation_id)

    def status(self) -> AgentStatus:
        cycle = self.active_cycle()
        if cycle is None:
            last, _ = self._service.list_operations(
                operation_type=OperationType.AGENT_RESEARCH, limit=1
            )
            cycle = self._service.get(last[0].operation_id) if last else None
            return AgentStatus(active=False, cycle=cycle, child=None)
        child: Operation | None = None
        try:
            phase = Phase(cycle.metadata.parameters.get("phase", "idle"))
        except ValueError:
            phase = Phase.IDLE
        key = CHILD_ID_KEY.get(phase)
        child_id = cycle.metadata.parameters.get(key) if key else None
        if isinstance(child_id, str):
            child = self._service.get(child_id)
        return AgentStatus(active=True, cycle=cycle, child=child)
