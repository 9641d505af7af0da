"""Random sequences of operations calls; the service's rules must hold after every step."""

from __future__ import annotations

import math

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from ktrdr.errors import ConflictError, InvalidRequestError
from ktrdr.operations.models import OperationStatus, OperationType
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore

ACTIVE = (OperationStatus.PENDING, OperationStatus.RUNNING)


class OperationsMachine(RuleBasedStateMachine):
    ops = Bundle("ops")

    def __init__(self) -> None:
        super().__init__()
        self.service = OperationsService(
            InMemoryOperationStore(), flush_interval=0, cancel_grace_seconds=3600
        )
        self.last_pct: dict[str, float] = {}
        self.last_version: dict[str, int] = {}
        self.terminal: dict[str, OperationStatus] = {}
        self.cancelled_parents: set[str] = set()

    @rule(target=ops, kind=st.sampled_from(list(OperationType)))
    def create(self, kind: OperationType) -> str:
        return self.service.create(kind).operation_id

    @rule(target=ops, parent=ops)
    def create_child(self, parent: str) -> str:
        try:
            return self.service.create(
                OperationType.TRAINING, parent_operation_id=parent
            ).operation_id
        except ConflictError:
            refused = self.service.get(parent)
            assert refused.is_terminal or refused.cancel_requested
            return parent

    @rule(op=ops)
    def start(self, op: str) -> None:
        before = self.service.get(op).status
        try:
            self.service.start(op)
        except ConflictError:
            assert before is not OperationStatus.PENDING

    @rule(op=ops, pct=st.floats(-10, 110) | st.sampled_from([math.nan, math.inf]))
    def progress(self, op: str, pct: float) -> None:
        before = self.service.get(op)
        try:
            after = self.service.update_progress(op, pct, f"at {pct}")
        except InvalidRequestError:
            assert not (math.isfinite(pct) and 0 <= pct <= 100)
            return
        except ConflictError:
            assert before.status is not OperationStatus.RUNNING
            return
        assert after.progress.percentage >= before.progress.percentage

    @rule(op=ops, key=st.sampled_from(["a", "b"]), value=st.integers())
    def parameters(self, op: str, key: str, value: int) -> None:
        try:
            merged = self.service.update_parameters(op, {key: value})
        except ConflictError:
            assert self.service.get(op).is_terminal
            return
        assert merged.metadata.parameters[key] == value

    @rule(op=ops)
    def complete(self, op: str) -> None:
        try:
            self.service.complete(op, {"ok": True})
        except ConflictError:
            assert self.service.get(op).status is not OperationStatus.RUNNING

    @rule(op=ops)
    def fail(self, op: str) -> None:
        try:
            self.service.fail(op, "boom")
        except ConflictError:
            assert self.service.get(op).is_terminal

    @rule(op=ops)
    def cancel(self, op: str) -> None:
        try:
            self.service.cancel(op)
        except ConflictError:
            assert self.service.get(op).status in (
                OperationStatus.COMPLETED,
                OperationStatus.FAILED,
            )
            return
        self.cancelled_parents.add(op)

    @rule(op=consumes(ops))
    def acknowledge_cancel(self, op: str) -> None:
        current = self.service.get(op)
        if current.cancel_requested and not current.is_terminal:
            done = self.service.finish_cancelled(op, stopped_at="here")
            assert done.status is OperationStatus.CANCELLED

    @invariant()
    def rules_hold(self) -> None:
        ops, _ = self.service.list_operations(limit=10_000)
        for op in ops:
            pct = op.progress.percentage
            assert 0.0 <= pct <= 100.0
            if op.status is OperationStatus.RUNNING:
                assert pct >= self.last_pct.get(op.operation_id, 0.0)
            assert (pct == 100.0) == (op.status is OperationStatus.COMPLETED)
            assert op.version >= self.last_version.get(op.operation_id, 0)
            self.last_pct[op.operation_id] = pct
            self.last_version[op.operation_id] = op.version
            if op.operation_id in self.terminal:
                assert op.status is self.terminal[op.operation_id]
            elif op.is_terminal:
                self.terminal[op.operation_id] = op.status
        for parent in self.cancelled_parents:
            for child in self.service.children(parent):
                assert child.is_terminal or child.cancel_requested, "child kept running"

    def teardown(self) -> None:
        self.service.close()


TestOperationsMachine = OperationsMachine.TestCase
