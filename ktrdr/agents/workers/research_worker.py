"""AgentResearchWorker: drives one research cycle through the phase machine.

The worker owns the *work* of each phase (design, start a child and wait for it, assess)
and fires the machine's trigger when that work is done; the machine's callbacks record
the phase, its progress and the child ids. Long work never runs inside a callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ktrdr.agents.design.base import DesignRequest, StrategyDesigner
from ktrdr.agents.phases import Phase
from ktrdr.agents.phases.machine import ResearchPhaseMachine
from ktrdr.agents.workers.cycle_summary import cycle_summary
from ktrdr.agents.workers.walk_forward import ResearchShape, WalkForwardCycle
from ktrdr.agents.workers.walk_forward_parts import WalkForwardLauncher, WorkerParts
from ktrdr.errors import ConflictError, KtrdrError
from ktrdr.logging import operation_logger
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.service import OperationsService
from ktrdr.operations.stops import stopped_sentence
from ktrdr.records.models import Operation, OperationStatus, utcnow
from ktrdr.records.results import (
    BacktestSummary,
    ResearchCycleSummary,
    backtest_summary_of,
    stopped_at_of,
)
from ktrdr.strategies.models import StrategyConfig

# How often the worker wakes while a child runs (it also wakes on every child change).
CHILD_WAIT_SLICE_SECONDS = 0.2


@dataclass(frozen=True)
class CycleRequest:
    """A cycle to run. ``shape`` None is the classic cycle: one design, one train/test
    split, one training and one backtest; otherwise candidates × walk-forward folds."""

    seed: int
    symbol: str | None = None
    timeframe: str | None = None
    epochs: int | None = None
    model: str | None = None
    shape: ResearchShape | None = None

    def design_request(self, now: datetime) -> DesignRequest:
        """What the designer is asked for this cycle (``now``: the cycle's clock)."""
        return DesignRequest(
            seed=self.seed,
            symbol=self.symbol,
            timeframe=self.timeframe,
            now=now,
            epochs=self.epochs,
        )


class ChildLauncher(Protocol):
    """Creates and submits the cycle's child operations (``ktrdr.jobs.cycles`` has the
    backend's own; tests script one).

    Two steps each, so the phase machine can record the child id before the child runs.
    """

    def create_training(self, strategy: StrategyConfig, parent_operation_id: str) -> str: ...

    def submit_training(self, operation_id: str, strategy: StrategyConfig) -> None: ...

    def create_backtest(
        self, training_summary: Mapping[str, Any], parent_operation_id: str
    ) -> str: ...

    def submit_backtest(self, operation_id: str) -> None: ...


@dataclass(frozen=True)
class CycleDependencies:
    service: OperationsService
    launcher: ChildLauncher
    designer: StrategyDesigner
    clock: Callable[[], datetime] = utcnow
    # Fits the designed strategy's train/test window to its series (see
    # ktrdr.strategies.window); None keeps the design's window as it is.
    fit_train_test_window: Callable[[StrategyConfig], StrategyConfig] | None = None


class ChildFailed(KtrdrError):
    code = "child_failed"


class AgentResearchWorker:
    def __init__(self, deps: CycleDependencies) -> None:
        self._deps = deps
        self._service = deps.service

    def run(self, operation_id: str, request: CycleRequest) -> None:
        """Run the whole cycle; every exit path leaves the operation terminal."""
        log = operation_logger(operation_id)
        machine = ResearchPhaseMachine(self._service, operation_id)
        token = self._service.token(operation_id)
        try:
            if request.shape is None:
                self._run_phases(machine, request, token)
            else:
                self._run_walk_forward(machine, request, request.shape, token)
        except CancellationRequested as stop:
            where = stop.where or _phase_stop_text(machine.phase)
            if machine.can("cancel"):
                machine.cancel(
                    stopped_at=where, result_summary=ResearchCycleSummary(phase=machine.phase.value)
                )
            log.info("research cycle cancelled", stopped_at=where)
        except KtrdrError as exc:
            self._stop_open_children(operation_id)
            if machine.can("fail"):
                machine.fail(exc.message, ResearchCycleSummary(phase=machine.phase.value))
            log.warning("research cycle failed", error=exc.message)
        except Exception as exc:  # a bug: the cycle must still end, with the reason
            self._stop_open_children(operation_id)
            if machine.can("fail"):
                machine.fail(
                    f"{type(exc).__name__}: {exc}", ResearchCycleSummary(phase=machine.phase.value)
                )
            log.error("research cycle crashed", error=f"{type(exc).__name__}: {exc}")

    def _stop_open_children(self, operation_id: str) -> None:
        """A failing cycle leaves no work behind: its children still open are cancelled."""
        for child in self._service.open_operations():
            if child.parent_operation_id == operation_id:
                try:
                    self._service.cancel(child.operation_id, "The research cycle failed")
                except KtrdrError:
                    continue  # it ended meanwhile

    # ------------------------------------------------------------------ phases
    def _run_phases(
        self, machine: ResearchPhaseMachine, request: CycleRequest, token: CancellationToken
    ) -> None:
        deps = self._deps
        machine.start_design()
        strategy = deps.designer.design(request.design_request(deps.clock()), token)
        strategy = StrategyConfig.model_validate(strategy.model_dump())
        if deps.fit_train_test_window is not None:
            strategy = deps.fit_train_test_window(strategy)
        self._service.update_parameters(
            machine.operation_id,
            {
                "strategy_name": strategy.name,
                "designer": deps.designer.name,
                "train_end": strategy.data.train_end.isoformat(),
                "test_start": strategy.data.test_start.isoformat(),
            },
        )
        token.raise_if_cancelled(where=_phase_stop_text(Phase.DESIGNING))

        with _stop_if_cancel_refuses_child(token, _phase_stop_text(Phase.DESIGNING)):
            training_id = deps.launcher.create_training(strategy, machine.operation_id)
        machine.start_training(child_op_id=training_id)
        deps.launcher.submit_training(training_id, strategy)
        training = self._await_child(training_id, token, "Training")

        token.raise_if_cancelled(where="Training had just finished")
        with _stop_if_cancel_refuses_child(token, "Training had just finished"):
            backtest_id = deps.launcher.create_backtest(
                training.result_summary or {}, machine.operation_id
            )
        machine.start_backtest(child_op_id=backtest_id)
        deps.launcher.submit_backtest(backtest_id)
        backtest = self._await_child(backtest_id, token, "Backtest")
        backtest_summary = backtest_summary_of(backtest) or BacktestSummary()

        machine.start_assessment()
        token.raise_if_cancelled(where=_phase_stop_text(Phase.ASSESSING))
        machine.complete(
            cycle_summary(strategy, deps.designer.name, request.seed, training, backtest_summary)
        )

    def _run_walk_forward(
        self,
        machine: ResearchPhaseMachine,
        request: CycleRequest,
        shape: ResearchShape,
        token: CancellationToken,
    ) -> None:
        deps = self._deps
        launcher = deps.launcher
        if not isinstance(launcher, WalkForwardLauncher):
            raise ConflictError("this backend's launcher cannot run walk-forward cycles")
        parts = WorkerParts(service=self._service, designer=deps.designer, launcher=launcher)
        cycle = WalkForwardCycle(parts, machine, shape, token)
        cycle.run(request.seed, request.design_request(deps.clock()))

    def _await_child(self, child_id: str, token: CancellationToken, label: str) -> Operation:
        """Wait until the child ends. A cancelled parent has already cancelled the child
        (the service cascades), so this waits for it to stop and reports where it did."""
        version = 0
        while True:
            child = self._service.wait_for_change(child_id, version, CHILD_WAIT_SLICE_SECONDS)
            if child.is_terminal:
                break
            version = child.version
        if token.is_cancelled:
            raise CancellationRequested(where=_child_stop_text(label, child))
        if child.status is OperationStatus.COMPLETED:
            return child
        if child.status is OperationStatus.CANCELLED:
            raise ChildFailed(f"{label} operation {child_id} was cancelled on its own")
        raise ChildFailed(f"{label} failed: {child.error_message or 'unknown error'}")


@contextmanager
def _stop_if_cancel_refuses_child(token: CancellationToken, where: str) -> Iterator[None]:
    """A child refused because the cycle is being cancelled means: stop here, cancelled.

    The service refuses a new child of a parent that is being cancelled (ConflictError);
    any other refusal is a real conflict and propagates."""
    try:
        yield
    except ConflictError:
        token.raise_if_cancelled(where=where)
        raise


def _phase_stop_text(phase: Phase) -> str:
    return {
        Phase.IDLE: "Stopped before it started",
        Phase.DESIGNING: "Stopped while designing the strategy",
        Phase.ASSESSING: "Stopped while assessing the results",
    }.get(phase, f"Stopped during {phase.value}")


def _child_stop_text(label: str, child: Operation) -> str:
    if child.status is OperationStatus.COMPLETED:
        return f"{label} had just finished"
    where = stopped_at_of(child) or child.progress.current_step or ""
    return stopped_sentence(label, where)
