"""The research phase machine.

``transitions`` owns *where* a cycle is; the on_enter callbacks here write what that
means (the standard progress, the phase and the child operation ids) through the
OperationsService. The callbacks only write state: long work never runs inside them
(a blocking callback would block the trigger), the worker does the work and then fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transitions import EventData, Machine, MachineError

from ktrdr.agents.phases.table import (
    ACTIVE_PHASES,
    CHILD_ID_KEY,
    PHASE_PROGRESS,
    PHASE_STEP,
    Phase,
)
from ktrdr.errors import ConflictError, OperationFinishedError
from ktrdr.logging import operation_logger
from ktrdr.operations.progress import ProgressUpdate
from ktrdr.operations.service import OperationsService
from ktrdr.records.contexts import ResearchCycleProgressContext
from ktrdr.records.results import ResearchCycleSummary

_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "start_design", "source": Phase.IDLE, "dest": Phase.DESIGNING},
    {"trigger": "start_training", "source": Phase.DESIGNING, "dest": Phase.TRAINING},
    {"trigger": "start_backtest", "source": Phase.TRAINING, "dest": Phase.BACKTESTING},
    {"trigger": "start_assessment", "source": Phase.BACKTESTING, "dest": Phase.ASSESSING},
    {"trigger": "complete", "source": Phase.ASSESSING, "dest": Phase.COMPLETED},
    {"trigger": "fail", "source": list(ACTIVE_PHASES), "dest": Phase.FAILED},
    {"trigger": "cancel", "source": list(ACTIVE_PHASES), "dest": Phase.CANCELLED},
]


class IllegalPhaseTransitionError(ConflictError):
    code = "illegal_phase_transition"


class _PhaseModel:
    """The object transitions decorates with ``state`` and trigger methods."""

    state: Phase


class ResearchPhaseMachine:
    def __init__(self, service: OperationsService, operation_id: str) -> None:
        self._service = service
        self.operation_id = operation_id
        self._model = _PhaseModel()
        self._machine = Machine(
            model=self._model,
            states=Phase,
            transitions=_TRANSITIONS,
            initial=Phase.IDLE,
            send_event=True,
            auto_transitions=False,
        )
        for phase in ACTIVE_PHASES:
            self._machine.get_state(phase).add_callback("enter", self._enter_active)
        self._machine.get_state(Phase.COMPLETED).add_callback("enter", self._enter_completed)
        self._machine.get_state(Phase.FAILED).add_callback("enter", self._enter_failed)
        self._machine.get_state(Phase.CANCELLED).add_callback("enter", self._enter_cancelled)
        self.history: list[Phase] = [Phase.IDLE]
        # child_op_ids, folds, candidates: kept from phase to phase once a cycle gives them.
        self._children: dict[str, Any] = {}

    @property
    def phase(self) -> Phase:
        return self._model.state

    # ---- triggers (typed wrappers; illegal ones raise IllegalPhaseTransitionError)
    def start_design(self) -> None:
        self._fire("start_design")

    def start_training(self, child_op_id: str | None, **children: Any) -> None:
        """``children``: a cycle with many children at once also gives ``child_op_ids``
        (every child so far), ``folds`` and ``candidates``."""
        self._fire("start_training", child_op_id=child_op_id, **children)

    def start_backtest(self, child_op_id: str | None, **children: Any) -> None:
        self._fire("start_backtest", child_op_id=child_op_id, **children)

    def show_children(
        self,
        child_op_id: str | None,
        child_op_ids: tuple[str, ...],
        by_kind: Mapping[Phase, str] | None = None,
    ) -> None:
        """Within a phase, a cycle with many children records which is the active one (the
        least advanced running), every child so far and (``by_kind``) the active child of
        each phase's kind under that phase's key (``training_op_id``, ``backtest_op_id``);
        the phase's percentage stays."""
        self._children = {**self._children, "child_op_ids": child_op_ids}
        parameters = {CHILD_ID_KEY[p]: child for p, child in (by_kind or {}).items()}
        self._write_progress(child_op_id, parameters or None)

    def start_assessment(self) -> None:
        self._fire("start_assessment")

    def complete(
        self, result_summary: ResearchCycleSummary, child_ids: Mapping[Phase, str] | None = None
    ) -> None:
        """``child_ids``: the children that stand for the result (a walk-forward cycle's
        chosen final training and holdout backtest), recorded under each phase's key."""
        parameters = {CHILD_ID_KEY[p]: child for p, child in (child_ids or {}).items()}
        self._fire("complete", result_summary=result_summary.to_dict(), parameters=parameters)

    def fail(self, error: str, result_summary: ResearchCycleSummary | None = None) -> None:
        summary = result_summary.to_dict() if result_summary is not None else {}
        self._fire("fail", error=error, result_summary=summary)

    def cancel(self, stopped_at: str, result_summary: ResearchCycleSummary | None = None) -> None:
        summary = result_summary.to_dict() if result_summary is not None else {}
        self._fire("cancel", stopped_at=stopped_at, result_summary=summary)

    def can(self, trigger: str) -> bool:
        return bool(self._machine.get_triggers(self.phase.name).count(trigger))

    def _fire(self, trigger: str, **kwargs: Any) -> None:
        before = self.phase
        try:
            self._model.trigger(trigger, **kwargs)  # type: ignore[attr-defined]
        except MachineError:
            allowed = ", ".join(sorted(self._machine.get_triggers(before.name))) or "none"
            raise IllegalPhaseTransitionError(
                f"Cannot {trigger} a research cycle in phase {before.value} "
                f"(allowed here: {allowed})",
                details={"phase": before.value, "trigger": trigger},
            ) from None

    # ---- on_enter callbacks: the only writers of the phase table to the service
    def _enter_active(self, event: EventData) -> None:
        phase = self.phase
        self.history.append(phase)
        child: str | None = event.kwargs.get("child_op_id")
        for key in ("child_op_ids", "folds", "candidates"):
            if key in event.kwargs:
                self._children[key] = event.kwargs[key]
        parameters: dict[str, Any] = {"phase": phase.value}
        if child is not None:
            parameters[CHILD_ID_KEY[phase]] = child
        operation_logger(self.operation_id).info("phase entered", phase=phase.value)
        self._write_progress(child, parameters)

    def _write_progress(self, child_op_id: str | None, parameters: dict[str, Any] | None) -> None:
        """The current phase's standard percentage and step, with the children known so far."""
        phase = self.phase
        self._service.update_progress(
            self.operation_id,
            ProgressUpdate(
                PHASE_PROGRESS[phase],
                PHASE_STEP[phase],
                context=ResearchCycleProgressContext(
                    phase=phase.value, child_op_id=child_op_id, **self._children
                ).to_dict(),
            ),
            parameters=parameters,
        )

    def _enter_completed(self, event: EventData) -> None:
        self.history.append(Phase.COMPLETED)
        operation_logger(self.operation_id).info("phase entered", phase=Phase.COMPLETED.value)
        self._service.complete(
            self.operation_id,
            event.kwargs.get("result_summary") or {},
            parameters={**(event.kwargs.get("parameters") or {}), "phase": Phase.COMPLETED.value},
            current_step=PHASE_STEP[Phase.COMPLETED],
            context=ResearchCycleProgressContext(
                phase=Phase.COMPLETED.value, child_op_id=None, **self._children
            ).to_dict(),
        )

    def _enter_failed(self, event: EventData) -> None:
        self.history.append(Phase.FAILED)
        try:
            self._service.fail(
                self.operation_id,
                str(event.kwargs.get("error") or "Research cycle failed"),
                event.kwargs.get("result_summary") or None,
                parameters={"phase": Phase.FAILED.value},
            )
        except OperationFinishedError:
            pass  # already ended (e.g. a forced cancel): terminal states never change

    def _enter_cancelled(self, event: EventData) -> None:
        self.history.append(Phase.CANCELLED)
        try:
            self._service.finish_cancelled(
                self.operation_id,
                stopped_at=str(event.kwargs.get("stopped_at") or ""),
                result_summary=event.kwargs.get("result_summary") or None,
                parameters={"phase": Phase.CANCELLED.value},
            )
        except OperationFinishedError:
            pass
