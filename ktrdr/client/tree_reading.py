"""Reading one answer of the operation tree: the followed operation's phase, its active child,
and the phases it went through since the previous answer.

The phase order and the child-id keys come from ``ktrdr.agents.phases`` (the one table,
through ``ktrdr.contract.progress``); the client keeps no copy of them.
"""

from __future__ import annotations

from ktrdr.contract.operations import OperationPublic, TreePublic
from ktrdr.contract.progress import ORDERED_PHASES, child_id_of_phase

# The happy path as the wire spells it: a jump over some of these means they passed unseen.
_PHASE_ORDER: tuple[str, ...] = tuple(phase.value for phase in ORDERED_PHASES)


def phase_or_status(op: OperationPublic) -> str:
    """A research cycle's phase; for other operations (which have no phases), their status."""
    phase = op.metadata.parameters.get("phase")
    return str(phase) if phase else op.status.value


def child_id_of(op: OperationPublic) -> str | None:
    """The child the phase table names for the operation's current phase, if it runs one."""
    return None if op.is_terminal else child_id_of_phase(op) or None


def active_child(tree: TreePublic) -> OperationPublic | None:
    """The root's active child, taken from the same answer (never a second request)."""
    child_id = child_id_of(tree.operations[0])
    if child_id is None:
        return None
    return next((op for op in tree.operations[1:] if op.operation_id == child_id), None)


def phases_entered(tree: TreePublic) -> list[str] | None:
    """The phases the root entered since the reader's previous answer, in order, from the
    tree's journal; None when the journal does not reach back that far (state only)."""
    if not tree.complete:
        return None
    root_id = tree.operations[0].operation_id
    return [c.value for c in tree.changes if c.operation_id == root_id and c.kind == "phase"]


def phases_passed(before: str | None, tree: TreePublic) -> list[str]:
    """The phases that began and ended between the previous answer (in phase ``before``) and
    this one: read from the journal when it has them, else inferred from the phase order."""
    after = phase_or_status(tree.operations[0])
    entered = phases_entered(tree)
    if entered:
        # Everything entered except the phase the root is in now (and the one it was in).
        passed = entered[:-1] if entered[-1] == after else entered
        return [p for p in passed if p not in (before, after)]
    if entered is not None:
        return []  # a complete journal with no phase change in it: nothing passed
    return guessed_passed(before, after)


def guessed_passed(before: str | None, after: str) -> list[str]:
    """The phases a cycle must have gone through to get from ``before`` to ``after``.

    Only a move forward along the happy path (to a later phase, or to completed) implies
    anything: a cycle that failed or was cancelled may have stopped in ``before`` itself,
    so a jump to failed/cancelled (or anything unknown) passes nothing."""
    if before not in _PHASE_ORDER or after not in _PHASE_ORDER:
        return []
    start = _PHASE_ORDER.index(before) + 1
    end = _PHASE_ORDER.index(after)
    return list(_PHASE_ORDER[start:end])
