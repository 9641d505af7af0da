"""How the views show a cycle that runs several children at once: which children get a line,
what each is called (``Training c2 f3``) and the line that counts the rest.

A walk-forward cycle's children say in ``metadata.parameters`` which candidate (and which
fold) they work on, and in which role; a classic cycle's children say none of it, and then
every name here is the seed's plain kind label.
"""

from __future__ import annotations

from ktrdr.cli.views.labels import CHILD_LABEL
from ktrdr.client.follow import ViewState
from ktrdr.contract.operations import OperationPublic

MAX_CHILD_LINES = 6  # child bars under a cycle's bar; the rest are counted on one line


def child_rows(state: ViewState) -> list[OperationPublic]:
    """The children worth a line: the active child (whatever its status: queued shows too),
    then the other running ones, least advanced first."""
    child = state.child
    rows = [child] if child is not None else []
    active_id = child.operation_id if child is not None else None
    return rows + [op for op in state.children.running if op.operation_id != active_id]


def runs_several(state: ViewState) -> bool:
    """Whether the cycle is running several children: two at once, or one with more
    waiting. A classic cycle never is (its one child at a time is the seed's layout)."""
    rows = child_rows(state)
    return len(rows) >= 2 or (len(rows) == 1 and state.children.pending > 0)


def _index(value: object) -> int | None:
    # A bool is an int to Python, never a fold number.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def child_tags(op: OperationPublic) -> str:
    """``c2 f3`` (candidate 2, fold 3), ``c1 final``, ``c1 holdout ×2`` (at twice the
    costs); empty for a child without walk-forward parameters. Counted from 1, as every
    text for people says them (the wire's indices start at 0)."""
    params = op.metadata.parameters
    role = params.get("role")
    candidate, fold = _index(params.get("candidate")), _index(params.get("fold"))
    parts = [f"c{candidate + 1}"] if candidate is not None else []
    if fold is not None:
        parts.append(f"f{fold + 1}")
    if role in ("final", "holdout"):
        parts.append(str(role))
    cost = params.get("cost_multiplier")
    if role == "holdout" and isinstance(cost, int | float) and not isinstance(cost, bool):
        parts.append(f"×{cost:g}")
    return " ".join(parts)


def child_name(op: OperationPublic, fallback: str = "") -> str:
    """The child's kind and tags: ``Training c2 f3``, or just ``Backtest``."""
    label = CHILD_LABEL.get(op.operation_type, fallback)
    tags = child_tags(op)
    return f"{label} {tags}".strip() if tags else label


def others_text(state: ViewState, shown: int) -> str | None:
    """``+3 more running · 5 done · 24 waiting`` (failures and cancels only when there are
    any), for the children beyond the ``shown`` lines; None when there are none."""
    children = state.children
    hidden = len(child_rows(state)) - shown
    ended = children.done + children.failed + children.cancelled
    if hidden <= 0 and ended == 0 and children.pending == 0:
        return None
    parts = [f"+{hidden} more running"] if hidden > 0 else []
    parts.append(f"{children.done} done")
    if children.failed:
        parts.append(f"{children.failed} failed")
    if children.cancelled:
        parts.append(f"{children.cancelled} cancelled")
    parts.append(f"{children.pending} waiting")
    return " · ".join(parts)
