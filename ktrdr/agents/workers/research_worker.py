"""AgentResearchWorker: drives one research cycle through the phase machine.

The worker owns the *work* of each phase (design, start a child and wait for it, assess)
and fires the machine's trigger when that work is done; the machine's callbacks record
the phase, its progress and the child ids. Long work never runs inside a callback.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ktrdr.agents.design.assessment import AssessmentInput, assess
from ktrdr.agents.design.base import DesignRequest, StrategyDesigner
from ktrdr.agents.phases import Phase
from ktrdr.agents.phases.machine import ResearchPhaseMachine
from ktrdr.errors import ConflictError, KtrdrError
from ktrdr.logging import operation_logger
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.models import Operation, OperationStatus, utcnow
from ktrdr.operations.results import (
    BacktestSummary,
    BenchmarkFigures,
    CycleBacktest,
    CycleTraining,
    ResearchCycleSummary,
    TradingMetrics,
    TrainingSummary,
    backtest_summary_of,
    stopped_at_of,
    training_summary_of,
)
from ktrdr.operations.service import OperationsService
from ktrdr.operations.stops import stopped_sentence
from ktrdr.strategies.models import StrategyConfig

# How often the worker wakes while a child runs (it also wakes on every child change).
CHILD_WAIT_SLICE_SECONDS = 0.2


@dataclass(frozen=True)
class CycleRequest:
    seed: int
    symbol: str | None = None
    timeframe: str | None = None
    epochs: int | None = None
    model: str | None = None


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
            self._run_phases(machine, request, token)
        except CancellationRequested as stop:
            where = stop.where or _phase_stop_text(machine.phase)
            if machine.can("cancel"):
                machine.cancel(
                    stopped_at=where, result_summary=ResearchCycleSummary(phase=machine.phase.value)
                )
            log.info("research cycle cancelled", stopped_at=where)
        except KtrdrError as exc:
            if machine.can("fail"):
                machine.fail(exc.message, ResearchCycleSummary(phase=machine.phase.value))
            log.warning("research cycle failed", error=exc.message)
        except Exception as exc:  # a bug: the cycle must still end, with the reason
            if machine.can("fail"):
                machine.fail(
                    f"{type(exc).__name__}: {exc}", ResearchCycleSummary(phase=machine.phase.value)
                )
            log.error("research cycle crashed", error=f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ phases
    def _run_phases(
        self, machine: ResearchPhaseMachine, request: CycleRequest, token: CancellationToken
    ) -> None:
        deps = self._deps
        machine.start_design()
        strategy = deps.designer.design(
            DesignRequest(
                seed=request.seed,
                symbol=request.symbol,
                timeframe=request.timeframe,
                now=deps.clock(),
                epochs=request.epochs,
            ),
            token,
        )
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
            _cycle_summary(strategy, deps.designer.name, request, training, backtest_summary)
        )

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


def _finite(value: float | None, default: float = 0.0) -> float:
    return value if value is not None and math.isfinite(value) else default


def _optional_finite(value: float | None) -> float | None:
    """Unknown stays unknown (None) instead of becoming a misleading 0."""
    return value if value is not None and math.isfinite(value) else None


def _baseline_accuracy(label_counts: Mapping[str, int]) -> float | None:
    counts = [float(v) for v in label_counts.values()]
    total = sum(counts)
    return max(counts) / total if total > 0 else None


def _cycle_summary(
    strategy: StrategyConfig,
    designer: str,
    request: CycleRequest,
    training: Operation,
    backtest: BacktestSummary,
) -> ResearchCycleSummary:
    train = training_summary_of(training) or TrainingSummary()
    metrics = backtest.metrics or TradingMetrics()
    benchmark = backtest.benchmark or BenchmarkFigures()
    profit_factor = metrics.profit_factor
    inputs = AssessmentInput(
        sharpe_ratio=_finite(metrics.sharpe_ratio),
        total_return=_finite(metrics.total_return),
        max_drawdown=_finite(metrics.max_drawdown),
        win_rate=_finite(metrics.win_rate),
        num_trades=metrics.num_trades or 0,
        profit_factor=None if profit_factor is None else _finite(profit_factor),
        exposure=_finite(metrics.exposure),
        val_accuracy=_optional_finite(train.val_accuracy),
        baseline_accuracy=_baseline_accuracy(train.train_label_counts),
        benchmark_sharpe=_optional_finite(benchmark.sharpe_ratio),
        benchmark_return=_optional_finite(benchmark.total_return),
    )
    assessment = assess(inputs)
    return ResearchCycleSummary(
        strategy_name=strategy.name,
        verdict=assessment.verdict,
        score=assessment.score,
        sharpe_ratio=inputs.sharpe_ratio,
        win_rate=inputs.win_rate,
        max_drawdown=inputs.max_drawdown,
        total_return=inputs.total_return,
        trades=inputs.num_trades,
        profit_factor=inputs.profit_factor,
        exposure=inputs.exposure,
        reasons=tuple(assessment.reasons),
        benchmark=BenchmarkFigures(
            name="buy and hold, same bars and costs",
            sharpe_ratio=inputs.benchmark_sharpe,
            total_return=inputs.benchmark_return,
            max_drawdown=_optional_finite(benchmark.max_drawdown),
        ),
        training=CycleTraining(
            operation_id=training.operation_id,
            epochs=train.epochs_completed,
            epochs_total=train.epochs_total,
            accuracy=train.val_accuracy,
            train_accuracy=train.train_accuracy,
            val_loss=train.val_loss,
            model_path=train.model_path,
        ),
        backtest=CycleBacktest(
            symbol=backtest.symbol,
            start=backtest.start,
            end=backtest.end,
            bars=backtest.bars,
            detail_path=backtest.detail_path,
        ),
        designer=designer,
        seed=request.seed,
        strategy=strategy.model_dump(mode="json"),
    )
