from __future__ import annotations

import pytest

from ktrdr.agents.phases import PHASE_PROGRESS, PHASE_STEP, Phase
from ktrdr.agents.phases.machine import IllegalPhaseTransitionError, ResearchPhaseMachine
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationStatus, OperationType
from ktrdr.records.results import ResearchCycleSummary

TRIGGERS = [
    "start_design",
    "start_training",
    "start_backtest",
    "start_assessment",
    "complete",
    "fail",
    "cancel",
]


@pytest.fixture
def service() -> OperationsService:
    return OperationsService(InMemoryOperationStore())


def _machine(service: OperationsService) -> ResearchPhaseMachine:
    op = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "idle"})
    service.start(op.operation_id)
    return ResearchPhaseMachine(service, op.operation_id)


def _fire(machine: ResearchPhaseMachine, trigger: str) -> None:
    if trigger in ("start_training", "start_backtest"):
        getattr(machine, trigger)(f"child-{trigger}")
    elif trigger == "complete":
        machine.complete(ResearchCycleSummary(verdict="neutral"))
    elif trigger == "fail":
        machine.fail("boom")
    elif trigger == "cancel":
        machine.cancel("Stopped somewhere")
    else:
        getattr(machine, trigger)()


def test_the_table_is_the_specified_one() -> None:
    assert PHASE_PROGRESS == {
        Phase.IDLE: 0.0,
        Phase.DESIGNING: 5.0,
        Phase.TRAINING: 20.0,
        Phase.BACKTESTING: 65.0,
        Phase.ASSESSING: 90.0,
        Phase.COMPLETED: 100.0,
    }
    assert PHASE_STEP[Phase.DESIGNING] == "Designing strategy..."
    assert PHASE_STEP[Phase.TRAINING] == "Training model..."
    assert PHASE_STEP[Phase.BACKTESTING] == "Backtesting..."
    assert PHASE_STEP[Phase.ASSESSING] == "Assessing results..."
    assert PHASE_STEP[Phase.COMPLETED] == "Complete"


def test_happy_path_writes_progress_phase_and_child_ids(service: OperationsService) -> None:
    machine = _machine(service)
    op_id = machine.operation_id
    seen = []
    machine.start_design()
    seen.append(service.get(op_id))
    machine.start_training("train-1")
    seen.append(service.get(op_id))
    machine.start_backtest("bt-1")
    seen.append(service.get(op_id))
    machine.start_assessment()
    seen.append(service.get(op_id))
    machine.complete(ResearchCycleSummary(verdict="promising"))
    seen.append(service.get(op_id))

    assert [s.progress.percentage for s in seen] == [5.0, 20.0, 65.0, 90.0, 100.0]
    assert [s.metadata.parameters["phase"] for s in seen] == [
        "designing",
        "training",
        "backtesting",
        "assessing",
        "completed",
    ]
    assert [s.progress.current_step for s in seen] == [
        "Designing strategy...",
        "Training model...",
        "Backtesting...",
        "Assessing results...",
        "Complete",
    ]
    assert seen[1].metadata.parameters["training_op_id"] == "train-1"
    assert seen[1].progress.context == {"phase": "training", "child_op_id": "train-1"}
    assert seen[2].metadata.parameters["backtest_op_id"] == "bt-1"
    assert seen[2].progress.context == {"phase": "backtesting", "child_op_id": "bt-1"}
    assert seen[-1].status is OperationStatus.COMPLETED
    assert seen[-1].result_summary == {"verdict": "promising"}
    assert seen[-1].progress.context == {"phase": "completed", "child_op_id": None}
    assert machine.history == [
        Phase.IDLE,
        Phase.DESIGNING,
        Phase.TRAINING,
        Phase.BACKTESTING,
        Phase.ASSESSING,
        Phase.COMPLETED,
    ]


@pytest.mark.parametrize("stop_after", [1, 2, 3, 4])
@pytest.mark.parametrize("ending", ["fail", "cancel"])
def test_every_active_phase_can_fail_or_cancel_keeping_its_percentage(
    service: OperationsService, stop_after: int, ending: str
) -> None:
    machine = _machine(service)
    for trigger in TRIGGERS[:stop_after]:
        _fire(machine, trigger)
    before = service.get(machine.operation_id).progress.percentage
    _fire(machine, ending)
    op = service.get(machine.operation_id)
    expected = OperationStatus.FAILED if ending == "fail" else OperationStatus.CANCELLED
    assert op.status is expected
    assert op.progress.percentage == before
    assert op.metadata.parameters["phase"] == ("failed" if ending == "fail" else "cancelled")
    if ending == "fail":
        assert op.error_message == "boom"
    else:
        assert op.result_summary is not None
        assert op.result_summary["stopped_at"] == "Stopped somewhere"


LEGAL = {
    Phase.IDLE: {"start_design"},
    Phase.DESIGNING: {"start_training", "fail", "cancel"},
    Phase.TRAINING: {"start_backtest", "fail", "cancel"},
    Phase.BACKTESTING: {"start_assessment", "fail", "cancel"},
    Phase.ASSESSING: {"complete", "fail", "cancel"},
    Phase.COMPLETED: set(),
    Phase.FAILED: set(),
    Phase.CANCELLED: set(),
}

PATHS = {
    Phase.IDLE: [],
    Phase.DESIGNING: ["start_design"],
    Phase.TRAINING: ["start_design", "start_training"],
    Phase.BACKTESTING: ["start_design", "start_training", "start_backtest"],
    Phase.ASSESSING: ["start_design", "start_training", "start_backtest", "start_assessment"],
    Phase.COMPLETED: TRIGGERS[:5],
    Phase.FAILED: ["start_design", "fail"],
    Phase.CANCELLED: ["start_design", "cancel"],
}


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_illegal_triggers_raise_a_domain_error_and_change_nothing(
    service: OperationsService, phase: Phase, trigger: str
) -> None:
    machine = _machine(service)
    for step in PATHS[phase]:
        _fire(machine, step)
    assert machine.phase is phase
    if trigger in LEGAL[phase]:
        _fire(machine, trigger)
        assert machine.phase is not phase
        return
    before = service.get(machine.operation_id)
    with pytest.raises(IllegalPhaseTransitionError) as info:
        _fire(machine, trigger)
    assert info.value.code == "illegal_phase_transition"
    assert phase.value in info.value.message
    assert machine.phase is phase
    assert service.get(machine.operation_id).version == before.version
