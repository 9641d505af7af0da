"""OperationsService as a Hypothesis state machine, checked against a small model.

The model predicts, for every call, either the exact error or the exact new state of
every operation (status, percentage, cancel flag, version, parameters, token). The
invariants then hold the service to the contracts that clients rely on, comparing each
operation with how it looked after the previous step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from ktrdr.errors import (
    ConflictError,
    InvalidRequestError,
    KtrdrError,
    OperationFinishedError,
)
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.service import RUNNING_PROGRESS_CAP, OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import Operation, OperationStatus, OperationType
from tests.support.progress import progress, report

PENDING = OperationStatus.PENDING
RUNNING = OperationStatus.RUNNING
COMPLETED = OperationStatus.COMPLETED
FAILED = OperationStatus.FAILED
CANCELLED = OperationStatus.CANCELLED

percentages = st.one_of(
    st.floats(min_value=0, max_value=100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-5, max_value=105),
    st.sampled_from([0.0, -0.0, 99.9, 99.95, 100.0, 100.0000001, -1e-9, math.nan]),
)
parameter_updates = st.dictionaries(
    st.sampled_from(["phase", "symbol", "epochs", "training_op_id"]),
    st.one_of(st.integers(), st.text(max_size=5), st.none()),
    max_size=3,
)


@dataclass
class ModelOp:
    operation_id: str
    parent: str | None
    token: CancellationToken
    status: OperationStatus = PENDING
    percentage: float = 0.0
    cancel_requested: bool = False
    version: int = 1
    parameters: dict[str, Any] = field(default_factory=dict)
    token_set: bool = False

    @property
    def terminal(self) -> bool:
        return self.status.is_terminal


class OperationsMachine(RuleBasedStateMachine):
    ops = Bundle("ops")

    def __init__(self) -> None:
        super().__init__()
        self.store = InMemoryOperationStore()
        # A grace period far longer than any run: the machine acknowledges cancels itself.
        self.service = OperationsService(self.store, cancel_grace_seconds=3600)
        self.model: dict[str, ModelOp] = {}
        self.previous: dict[str, Operation] = {}

    def teardown(self) -> None:
        self.service.close()

    # ------------------------------------------------------------------ helpers
    def expect_error(self, error: type[KtrdrError], call: Any, *args: Any, **kwargs: Any) -> None:
        try:
            call(*args, **kwargs)
        except KtrdrError as exc:
            assert isinstance(exc, error), f"expected {error.__name__}, got {exc!r}"
            return
        raise AssertionError(f"expected {error.__name__} from {call.__name__}{args}")

    def descendants(self, operation_id: str) -> list[ModelOp]:
        kids = [m for m in self.model.values() if m.parent == operation_id]
        out: list[ModelOp] = []
        for kid in kids:
            out.append(kid)
            out.extend(self.descendants(kid.operation_id))
        return out

    def changed(self, m: ModelOp) -> None:
        m.version += 1

    # ------------------------------------------------------------------ rules
    @initialize(target=ops)
    def first(self) -> str:
        return self._create(None)

    @rule(target=ops)
    def create_root(self) -> str:
        return self._create(None)

    @rule(target=ops, parent=ops)
    def create_child(self, parent: str) -> Any:
        p = self.model[parent]
        if p.terminal:
            self.expect_error(
                OperationFinishedError,
                self.service.create,
                OperationType.TRAINING,
                parent_operation_id=parent,
            )
            return multiple()
        if p.cancel_requested:
            self.expect_error(
                ConflictError,
                self.service.create,
                OperationType.TRAINING,
                parent_operation_id=parent,
            )
            return multiple()
        return self._create(parent)

    def _create(self, parent: str | None) -> str:
        op_type = OperationType.AGENT_RESEARCH if parent is None else OperationType.TRAINING
        op = self.service.create(op_type, parent_operation_id=parent, parameters={"n": 0})
        assert op.status is PENDING and op.version == 1
        self.model[op.operation_id] = ModelOp(
            op.operation_id, parent, self.service.token(op.operation_id), parameters={"n": 0}
        )
        return op.operation_id

    @rule(op=ops)
    def start(self, op: str) -> None:
        m = self.model[op]
        if m.terminal:
            self.expect_error(OperationFinishedError, self.service.start, op)
        elif m.status is not PENDING:
            self.expect_error(ConflictError, self.service.start, op)
        else:
            assert self.service.start(op).status is RUNNING
            m.status = RUNNING
            self.changed(m)

    @rule(op=ops, percentage=percentages, with_params=st.booleans(), hot=st.booleans())
    def update_progress(self, op: str, percentage: float, with_params: bool, hot: bool) -> None:
        m = self.model[op]
        params = {"progress_seen": percentage} if with_params and not hot else None

        def call() -> object:
            if hot:
                return report(self.service, op, percentage, "step")
            return progress(self.service, op, percentage, "step", parameters=params)

        if not math.isfinite(percentage) or not 0 <= percentage <= 100:
            self.expect_error(InvalidRequestError, call)
        elif m.terminal:
            self.expect_error(OperationFinishedError, call)
        elif m.status is not RUNNING:
            self.expect_error(ConflictError, call)
        else:
            call()
            m.percentage = max(m.percentage, min(float(percentage), RUNNING_PROGRESS_CAP))
            if params:
                m.parameters.update(params)
            self.changed(m)

    @rule(op=ops, params=parameter_updates)
    def update_parameters(self, op: str, params: dict[str, Any]) -> None:
        m = self.model[op]
        if m.terminal:
            self.expect_error(OperationFinishedError, self.service.update_parameters, op, params)
        else:
            merged = self.service.update_parameters(op, params).metadata.parameters
            m.parameters.update(params)
            assert merged == m.parameters
            self.changed(m)

    @rule(op=ops)
    def cancel(self, op: str) -> None:
        m = self.model[op]
        if m.status in (COMPLETED, FAILED):
            self.expect_error(OperationFinishedError, self.service.cancel, op)
            return
        self.service.cancel(op)
        if m.status is CANCELLED:
            return  # idempotent: nothing changes
        for target in [*self.descendants(op), m]:
            self.expect_cancel_requested(target)

    def expect_cancel_requested(self, m: ModelOp) -> None:
        """What a cancel (own or cascaded) does: pending ends at once, running is asked."""
        if m.terminal:
            return
        if m.status is PENDING:
            m.status = CANCELLED
        elif m.cancel_requested:
            return
        m.cancel_requested = True
        m.token_set = True
        self.changed(m)

    @rule(op=ops)
    def finish_cancelled(self, op: str) -> None:
        m = self.model[op]
        if m.status in (COMPLETED, FAILED):
            self.expect_error(OperationFinishedError, self.service.finish_cancelled, op)
            return
        done = self.service.finish_cancelled(op, stopped_at="somewhere")
        assert done.status is CANCELLED
        if m.status is not CANCELLED:
            for target in self.descendants(op):
                self.expect_cancel_requested(target)
            m.status = CANCELLED
            m.cancel_requested = True
            self.changed(m)

    @rule(op=ops)
    def complete(self, op: str) -> None:
        m = self.model[op]
        if m.terminal:
            self.expect_error(OperationFinishedError, self.service.complete, op)
        elif m.status is not RUNNING:
            self.expect_error(ConflictError, self.service.complete, op)
        else:
            assert self.service.complete(op, {"ok": True}).progress.percentage == 100.0
            m.status = COMPLETED
            m.percentage = 100.0
            self.changed(m)

    @rule(target=ops, percentage=st.floats(min_value=0, max_value=100), hot=st.booleans())
    def a_whole_job(self, percentage: float, hot: bool) -> str:
        """The path every job takes: start, a report, completion, in a row. Left to chance
        (rules drawing any operation), a completion right after a report is rare enough that
        a completion keeping the last percentage instead of 100 slipped through 200 examples."""
        op = self._create(None)
        self.start(op)
        self.update_progress(op, percentage, with_params=False, hot=hot)
        self.complete(op)
        assert self.service.get(op).progress.percentage == 100.0
        return op

    @rule(op=ops)
    def fail(self, op: str) -> None:
        m = self.model[op]
        if m.terminal:
            self.expect_error(OperationFinishedError, self.service.fail, op, "boom")
        else:
            assert self.service.fail(op, "boom").error_message == "boom"
            m.status = FAILED
            self.changed(m)

    # ------------------------------------------------------------------ invariants
    @invariant()
    def service_matches_the_model(self) -> None:
        for op_id, m in self.model.items():
            op = self.service.get(op_id)
            assert op.status is m.status, (op_id, op.status, m.status)
            assert op.progress.percentage == m.percentage, (op_id, op.progress, m.percentage)
            assert op.cancel_requested == m.cancel_requested, op_id
            assert op.version == m.version, (op_id, op.version, m.version)
            assert op.metadata.parameters == m.parameters, op_id
            assert op.parent_operation_id == m.parent
            assert m.token.is_cancelled == m.token_set, op_id

    @invariant()
    def contracts_hold_step_to_step(self) -> None:
        listed = {row.operation_id for row in self.service.list_operations(limit=10_000)[0]}
        assert listed == set(self.model)
        now = {op_id: self.service.get(op_id) for op_id in self.model}
        for op_id, op in now.items():
            pct = op.progress.percentage
            assert 0.0 <= pct <= 100.0
            if op.status is RUNNING:
                assert pct < 100.0
            if op.is_terminal:
                assert (pct == 100.0) == (op.status is COMPLETED), op
            before = self.previous.get(op_id)
            if before is None:
                continue
            assert op.version >= before.version
            if op.version == before.version:
                assert op == before, "changed without a new version"
            if before.status is RUNNING or op.status is RUNNING:
                assert pct >= before.progress.percentage, "progress went backwards"
            if before.is_terminal:
                assert op == before, "a terminal operation changed"
        self.previous = now

    @invariant()
    def a_cancelled_parent_has_no_live_children(self) -> None:
        for row in self.service.list_operations(limit=10_000)[0]:
            op = self.service.get(row.operation_id)
            assert (row.status, row.version) == (op.status, op.version), "listing is stale"
            if not (op.cancel_requested or op.status is CANCELLED):
                continue
            for child in self.service.children(op.operation_id):
                assert child.status is not PENDING, child
                if child.status is RUNNING:
                    assert child.cancel_requested, child

    @invariant()
    def the_store_holds_what_the_service_says(self) -> None:
        stored = {op_id: self.store.get(op_id) for op_id in self.model}
        assert stored == {op_id: self.service.get(op_id) for op_id in self.model}


# The default budget is 200 examples of up to 30 steps. HYPOTHESIS_PROFILE=ci or thorough
# loads a profile registered in tests/conftest.py, whose budget then applies (never fewer
# than 30 steps).
_loaded = settings()
TestOperationsStateMachine = OperationsMachine.TestCase
TestOperationsStateMachine.settings = (
    settings(max_examples=200, stateful_step_count=30, deadline=None)
    if settings.get_current_profile_name() == "default"
    else settings(_loaded, stateful_step_count=max(30, _loaded.stateful_step_count))
)
