"""Property tests of the research cycle: the phase machine and the worker together.

Random sequences of cycles with random design/child outcomes and random cancel moments run
against the real OperationsService; every saved version of every operation is recorded,
so the invariants are checked on everything a watcher could ever have seen.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ktrdr.agents.phases import PHASE_PROGRESS, Phase
from ktrdr.agents.phases.machine import IllegalPhaseTransitionError, ResearchPhaseMachine
from ktrdr.agents.phases.table import ORDERED_PHASES
from ktrdr.agents.workers.research_worker import (
    AgentResearchWorker,
    CycleDependencies,
    CycleRequest,
)
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.results import ResearchCycleSummary
from tests.support.research_fakes import FakeDesigner, RecordingStore, ScriptedLauncher

PHASE_ORDER = list(ORDERED_PHASES)


def _phase_of(version: Operation) -> Phase:
    return Phase(version.metadata.parameters.get("phase", "idle"))


def check_cycle_history(history: list[Operation], children: list[Operation]) -> None:
    last_pct = -1.0
    last_rank = 0
    for version in history:
        pct = version.progress.percentage
        assert 0.0 <= pct <= 100.0
        assert pct >= last_pct, "parent percentage went down"
        last_pct = pct
        if version.status is OperationStatus.COMPLETED:
            assert pct == 100.0
        else:
            assert pct < 100.0, "100 % shown before completion"
        phase = _phase_of(version)
        if phase in PHASE_ORDER:
            rank = PHASE_ORDER.index(phase)
            assert rank >= last_rank, f"phase {phase} came after a later phase"
            last_rank = rank
            if version.status is OperationStatus.RUNNING:
                assert pct == PHASE_PROGRESS[phase]
        if phase is Phase.TRAINING:
            assert version.metadata.parameters.get("training_op_id")
        if phase is Phase.BACKTESTING:
            assert version.metadata.parameters.get("backtest_op_id")
    final = history[-1]
    assert final.is_terminal
    for child in children:
        assert child.is_terminal, "a child was left running after its cycle ended"
        if final.status is OperationStatus.CANCELLED:
            assert child.status in (OperationStatus.CANCELLED, OperationStatus.COMPLETED)


class ResearchCycles(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = RecordingStore()
        self.service = OperationsService(self.store, cancel_grace_seconds=30)
        self.cycles: list[str] = []
        self._checked: dict[str, tuple[int, ...]] = {}

    @rule(
        design=st.sampled_from(["ok", "ok", "ok", "invalid", "cancel_parent"]),
        training=st.sampled_from(["complete", "complete", "fail", "cancel_parent"]),
        backtest=st.sampled_from(["complete", "complete", "fail", "cancel_parent"]),
        epochs=st.integers(min_value=1, max_value=12),
        seed=st.integers(min_value=0, max_value=10_000),
    )
    def run_cycle(self, design: str, training: str, backtest: str, epochs: int, seed: int) -> None:
        parent = self.service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "idle"})
        self.service.start(parent.operation_id)
        designer = FakeDesigner(self.service, design, parent_id=parent.operation_id)  # type: ignore[arg-type]
        launcher = ScriptedLauncher(self.service, training, backtest, epochs=epochs)  # type: ignore[arg-type]
        worker = AgentResearchWorker(
            CycleDependencies(service=self.service, launcher=launcher, designer=designer)
        )
        worker.run(parent.operation_id, CycleRequest(seed=seed))
        self.cycles.append(parent.operation_id)
        final = self.service.get(parent.operation_id)
        expect_cancel = design == "cancel_parent" or (
            design == "ok"
            and (
                training == "cancel_parent"
                or (training == "complete" and backtest == "cancel_parent")
            )
        )
        if expect_cancel:
            assert final.status is OperationStatus.CANCELLED
            assert (final.result_summary or {}).get("stopped_at")
        elif design == "ok" and training == "complete" and backtest == "complete":
            assert final.status is OperationStatus.COMPLETED
        else:
            assert final.status is OperationStatus.FAILED

    @invariant()
    def every_cycle_history_is_well_formed(self) -> None:
        # A cycle is checked again whenever anything was saved for it or its children since
        # its last check, so a late write to an ended cycle is still seen; an unchanged one
        # (the same saved versions) would only repeat the same verdict.
        for op_id in self.cycles:
            ids = [c.operation_id for c in self.service.children(op_id)]
            saved = (op_id, *ids)
            versions = tuple(len(self.store.history.get(i, ())) for i in saved)
            if self._checked.get(op_id) == versions:
                continue
            children = [self.service.get(i) for i in ids]
            check_cycle_history(self.store.history[op_id], children)
            self._checked[op_id] = versions

    def teardown(self) -> None:
        self.service.close()


TestResearchCycles = ResearchCycles.TestCase
# Each step runs a whole cycle, and cycles in one service barely interact: a third of the
# profile's steps per example (6 by default, 13 under "thorough") keeps hundreds of distinct
# cycles per run at a third of the cost.
TestResearchCycles.settings = settings(
    stateful_step_count=max(6, settings().stateful_step_count // 3)
)


class PhaseMachineWalk(RuleBasedStateMachine):
    """Random triggers, legal or not, against the machine; a simple model predicts legality."""

    NEXT = {
        "start_design": (Phase.IDLE, Phase.DESIGNING),
        "start_training": (Phase.DESIGNING, Phase.TRAINING),
        "start_backtest": (Phase.TRAINING, Phase.BACKTESTING),
        "start_assessment": (Phase.BACKTESTING, Phase.ASSESSING),
        "complete": (Phase.ASSESSING, Phase.COMPLETED),
    }

    def __init__(self) -> None:
        super().__init__()
        self.store = RecordingStore()
        self.service = OperationsService(self.store)
        op = self.service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "idle"})
        self.service.start(op.operation_id)
        self.machine = ResearchPhaseMachine(self.service, op.operation_id)
        self.expected = Phase.IDLE

    @rule(
        trigger=st.sampled_from(
            [
                "start_design",
                "start_training",
                "start_backtest",
                "start_assessment",
                "complete",
                "fail",
                "cancel",
            ]
        )
    )
    def fire(self, trigger: str) -> None:
        if trigger in self.NEXT:
            source, dest = self.NEXT[trigger]
            legal = self.expected is source
        else:
            legal = self.expected in (
                Phase.DESIGNING,
                Phase.TRAINING,
                Phase.BACKTESTING,
                Phase.ASSESSING,
            )
            dest = Phase.FAILED if trigger == "fail" else Phase.CANCELLED
        try:
            if trigger in ("start_training", "start_backtest"):
                getattr(self.machine, trigger)("child")
            elif trigger == "complete":
                self.machine.complete(ResearchCycleSummary())
            elif trigger == "fail":
                self.machine.fail("x")
            elif trigger == "cancel":
                self.machine.cancel("here")
            else:
                getattr(self.machine, trigger)()
        except IllegalPhaseTransitionError:
            assert not legal
            return
        assert legal
        self.expected = dest

    @invariant()
    def machine_matches_model_and_progress_is_monotonic(self) -> None:
        assert self.machine.phase is self.expected
        versions = self.store.history[self.machine.operation_id]
        pcts = [v.progress.percentage for v in versions]
        assert pcts == sorted(pcts)
        final = self.service.get(self.machine.operation_id)
        assert (final.progress.percentage == 100.0) == (final.status is OperationStatus.COMPLETED)

    def teardown(self) -> None:
        self.service.close()


TestPhaseMachineWalk = PhaseMachineWalk.TestCase
