"""Watching a tree through its journal: whatever the service does, a reader that starts at
some tree version and keeps asking "what changed since the version I last saw?" sees every
status, phase, cancel request and new child, in order, never sees the version go down, and
is told "nothing new" (what the API answers with 304) exactly when nothing changed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ktrdr.errors import KtrdrError
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import Operation, OperationType
from tests.support.moves import STATUS_MOVES
from tests.support.progress import report

ACTIONS = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(
                ["child", "start", "progress", "phase", "complete", "fail", "cancel", "ack"]
            ),
            st.integers(min_value=0, max_value=4),
        ),
        st.just(("poll", 0)),
    ),
    max_size=50,
)
PHASES = ["designing", "training", "backtesting", "assessing"]


def observed(op: Operation) -> dict[str, str]:
    phase = op.metadata.parameters.get("phase")
    seen = {"status": op.status.value, "cancel_requested": str(op.cancel_requested).lower()}
    if isinstance(phase, str):
        seen["phase"] = phase
    return seen


@given(ACTIONS, st.integers(min_value=0, max_value=8))
def test_a_reader_sees_every_significant_change_in_order(
    actions: list[tuple[str, int]], start_after: int
) -> None:
    service = OperationsService(InMemoryOperationStore(), cancel_grace_seconds=3600)
    root = service.create(OperationType.AGENT_RESEARCH).operation_id
    nodes = [root]
    truth: dict[tuple[str, str], list[str]] = defaultdict(list)  # (op, kind) -> values
    last: dict[str, dict[str, str]] = {root: observed(service.get(root))}
    reader_since: int | None = None
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    highest = 0

    def poll() -> None:
        nonlocal reader_since, highest
        assert reader_since is not None
        tree = service.tree(root, since=reader_since)
        actual = sum(op.version for op in tree.nodes)
        assert tree.version == actual, "the tree version is the sum of its versions"
        assert tree.version >= highest, "the version went down"
        assert tree.complete
        if tree.version == reader_since:
            assert tree.changes == [], "'nothing new' must mean nothing changed"
        else:
            assert tree.changes == sorted(tree.changes, key=lambda c: c.tree_version)
            assert all(reader_since < c.tree_version <= tree.version for c in tree.changes)
        for change in tree.changes:
            seen[(change.operation_id, change.kind)].append(change.value)
        highest = reader_since = tree.version

    try:
        for step, (action, pick) in enumerate(actions):
            if reader_since is None and step >= start_after:
                reader_since = service.tree(root).version
                truth.clear()
            if action == "poll":
                if reader_since is not None:
                    poll()
                continue
            target = nodes[pick % len(nodes)]
            try:
                perform(service, action, target, nodes, pick)
            except KtrdrError:
                pass  # a refused move changes nothing
            for op_id in nodes:
                now = observed(service.get(op_id))
                before = last.get(op_id)
                if before is None:
                    truth[(op_id, "created")].append(service.get(op_id).operation_type.value)
                    before = {"status": "pending", "cancel_requested": "false"}
                for kind, value in now.items():
                    if before.get(kind) != value:
                        truth[(op_id, kind)].append(value)
                last[op_id] = now
        if reader_since is not None:
            poll()
            expected = {k: v for k, v in truth.items() if v and k[1] != "cancel_requested"}
            got = {k: v for k, v in seen.items() if k[1] != "cancel_requested"}
            assert got == expected
            # A cancel request is journaled once, when it is made.
            for key, values in truth.items():
                if key[1] == "cancel_requested" and "true" in values:
                    assert seen.get(key) == ["true"], key
    finally:
        service.close()


def perform(
    service: OperationsService, action: str, target: str, nodes: list[str], pick: int
) -> Any:
    if action == "child":
        kind = OperationType.TRAINING if pick % 2 else OperationType.BACKTESTING
        nodes.append(service.create(kind, parent_operation_id=target).operation_id)
    elif action in ("progress", "phase"):  # on running work: start it first if need be
        if service.get(target).status.value == "pending":
            service.start(target)
        if action == "progress":
            report(service, target, 5.0 * pick, f"step {pick}")
        else:
            report(service, target, 10.0, parameters={"phase": PHASES[pick % len(PHASES)]})
    else:
        STATUS_MOVES[action](service, target)
