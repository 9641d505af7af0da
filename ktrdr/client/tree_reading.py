"""Reading one answer of the operation tree: the followed operation's phase, its active child,
its direct children, and the phases it went through since the previous answer.

The phase order and the child-id keys come from ``ktrdr.agents.phases`` (the one table,
through ``ktrdr.contract.progress``); the client keeps no copy of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ktrdr.contract.operations import OperationPublic, TreePublic
from ktrdr.contract.progress import (
    ORDERED_PHASES,
    child_id_of_phase,
    research_cycle_context_of,
)
from ktrdr.records.models import OperationStatus

# The happy path as the wire spells it: a jump over some of these means they passed unseen.
_PHASE_ORDER: tuple[str, ...] = tuple(phase.value for phase in ORDERED_PHASES)


def phase_or_status(op: OperationPublic) -> str:
    """A research cycle's phase; for other operations (which have no phases), their status."""
    phase = op.metadata.parameters.get("phase")
    return str(phase) if phase else op.status.value


def child_id_of(op: OperationPublic) -> str | None:
    """The child the phase table names for the operation's current phase, if it runs one."""
    return None if op.is_terminal else child_id_of_phase(op) or None


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


def phases_before(parent: OperationPublic) -> list[str]:
    """The phases a cycle first seen in ``parent``'s phase went through before it: those
    before it on the happy path. A cycle's phase is where it is, or where it stopped, so a
    failed one has passed the phases before that one; one known only by a failed or
    cancelled status passed nothing anyone can name. A watcher that joins late still
    names every phase."""
    return guessed_passed(_PHASE_ORDER[0], phase_or_status(parent))


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


@dataclass(frozen=True)
class Children:
    """The watched operation's direct children in one answer.

    ``running``: the running ones, least advanced first, the active child first. ``done``,
    ``failed``, ``cancelled``: the children that ended so; ``pending``: those waiting for a
    worker, but for the active child (it is shown, as queued).
    ``watched``: every running child and the active one whatever its status, in creation
    order; a change in this set is what CHILD_APPEARED and CHILD_GONE report."""

    running: tuple[OperationPublic, ...] = ()
    pending: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    watched: tuple[str, ...] = ()


def active_child_id(parent: OperationPublic) -> str | None:
    """The child the watched operation waits on most, None once it ended.

    A cycle's progress context names it whenever the cycle's phase machine wrote one (the
    least advanced running child, kept current within a phase); the phase table's
    parameter names it otherwise (the same child, but not cleared within a phase)."""
    if parent.is_terminal:
        return None
    context = research_cycle_context_of(parent)
    if context is not None and context.phase is not None:
        return context.child_op_id
    return child_id_of(parent)


def read_children(tree: TreePublic, active_id: str | None) -> Children:
    """The root's direct children in one answer (see ``Children``)."""
    root = tree.operations[0]
    kids = [
        op
        for op in tree.operations[1:]
        if op.parent_operation_id == root.operation_id or op.operation_id == active_id
    ]
    statuses = [op.status for op in kids if op.operation_id != active_id]
    done = sum(1 for op in kids if op.status is OperationStatus.COMPLETED)
    failed = sum(1 for op in kids if op.status is OperationStatus.FAILED)
    cancelled = sum(1 for op in kids if op.status is OperationStatus.CANCELLED)
    pending = statuses.count(OperationStatus.PENDING)
    if root.is_terminal:
        # An ended operation waits on nothing: a child still shown as running is ending too.
        return Children(pending=pending, done=done, failed=failed, cancelled=cancelled)
    running = [op for op in kids if op.status is OperationStatus.RUNNING]
    # Least advanced first (a stable sort keeps creation order among equals), the active
    # child before all: it is the one the whole cycle waits on.
    running.sort(key=lambda op: (op.operation_id != active_id, op.progress.percentage))
    watched = [op.operation_id for op in kids if op.status is OperationStatus.RUNNING]
    if active_id is not None and active_id not in watched:
        watched.append(active_id)  # named before it runs (queued), or not in this answer
    return Children(
        running=tuple(running),
        pending=pending,
        done=done,
        failed=failed,
        cancelled=cancelled,
        watched=tuple(watched),
    )
