"""What changed in each operation tree, and who is waiting to hear about it.

Watching is push, not polling: a waiter registers a ``wake`` callback on an operation and
is called after every change to that operation or any of its descendants. Each tree also
has a version (the sum of its operations' versions, so it goes up by exactly one per
change anywhere in it) and a journal of its significant changes (a child created, a
status, a phase, a cancel request), each stamped with the tree version it produced. A
watcher that last saw tree version ``v`` asks for the journal after ``v`` and so sees every
status and phase change in order, even those that came and went while it was away.

Journals are kept for open trees (from their creation) and for a bounded number of trees
that ended recently; older history answers with state only (``complete`` False).
Called by the service under its lock: every method is short.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ktrdr.records.models import Operation, utcnow

JOURNAL_LENGTH = 512  # significant changes kept per tree (a research cycle makes ~15)
ENDED_TREES_KEPT = 256

Wake = Callable[[], None]


@dataclass(frozen=True)
class Change:
    """One significant change: ``kind`` is created | status | phase | cancel_requested."""

    tree_version: int
    operation_id: str
    kind: str
    value: str
    at: datetime = field(default_factory=utcnow)


class _Tree:
    __slots__ = ("changes", "first_version", "members", "version")

    def __init__(self) -> None:
        self.version = 0
        self.first_version = 0  # the journal holds every change after this one
        self.changes: deque[Change] = deque(maxlen=JOURNAL_LENGTH)
        self.members: list[str] = []  # descendants, in creation order

    def add(self, change: Change) -> None:
        if len(self.changes) == self.changes.maxlen:
            self.first_version = self.changes[0].tree_version
        self.changes.append(change)


def significant_changes(before: Operation | None, after: Operation) -> list[tuple[str, str]]:
    """The (kind, value) pairs a watcher must not miss between two snapshots."""
    if before is None:
        return [("created", after.operation_type.value)]
    found: list[tuple[str, str]] = []
    if before.status is not after.status:
        found.append(("status", after.status.value))
    phase = after.metadata.parameters.get("phase")
    if isinstance(phase, str) and phase != before.metadata.parameters.get("phase"):
        found.append(("phase", phase))
    if after.cancel_requested and not before.cancel_requested:
        found.append(("cancel_requested", "true"))
    return found


class ChangeFeed:
    def __init__(self) -> None:
        self._watchers: dict[str, set[Wake]] = {}
        self._trees: dict[str, _Tree] = {}  # open trees (every open operation heads one)
        self._ended: OrderedDict[str, _Tree] = OrderedDict()

    # ------------------------------------------------------------------ writers
    def record(self, path: list[Operation], before: Operation | None) -> None:
        """``path[0]`` just changed (``before`` is its previous snapshot, None when it was
        just created); ``path[1:]`` are its ancestors, nearest first. Every tree on the
        path moves one version up and journals what matters; their watchers wake."""
        after = path[0]
        found = significant_changes(before, after)
        for node in path:
            tree = self._tree(node.operation_id)
            if tree is None:
                # A tree is tracked from its head's creation (version 1) on.
                if node is not after or before is not None:
                    continue
                tree = self._trees[node.operation_id] = _Tree()
            elif before is None:
                tree.members.append(after.operation_id)
            tree.version += 1
            for kind, value in found:
                tree.add(Change(tree.version, after.operation_id, kind, value))
            for wake in list(self._watchers.get(node.operation_id, ())):
                wake()
        if after.is_terminal and after.operation_id in self._trees:
            self._ended[after.operation_id] = self._trees.pop(after.operation_id)
            while len(self._ended) > ENDED_TREES_KEPT:
                self._ended.popitem(last=False)

    def _tree(self, operation_id: str) -> _Tree | None:
        return self._trees.get(operation_id) or self._ended.get(operation_id)

    # ------------------------------------------------------------------ readers
    def watch(self, operation_id: str, wake: Wake) -> Callable[[], None]:
        """Call ``wake`` after every change in ``operation_id``'s tree until the returned
        function is called. ``wake`` runs under the service lock: it must only signal."""
        self._watchers.setdefault(operation_id, set()).add(wake)

        def unwatch() -> None:
            waiting = self._watchers.get(operation_id)
            if waiting is not None:
                waiting.discard(wake)
                if not waiting:
                    del self._watchers[operation_id]

        return unwatch

    def watcher_count(self) -> int:
        return sum(len(w) for w in self._watchers.values())

    def members(self, operation_id: str) -> list[str] | None:
        """The tree's descendants in creation order, or None when it is not tracked."""
        tree = self._tree(operation_id)
        return None if tree is None else list(tree.members)

    def journal(self, operation_id: str, since: int) -> tuple[int | None, list[Change], bool]:
        """(tree version or None if untracked, changes after ``since``, whether the journal
        reaches back to ``since`` so that list is every significant change)."""
        tree = self._tree(operation_id)
        if tree is None:
            return None, [], False
        changes = [c for c in tree.changes if c.tree_version > since]
        return tree.version, changes, since >= tree.first_version


@dataclass(frozen=True)
class OperationTree:
    """An operation with every descendant (creation order), the tree's version and, for a
    reader that last saw version ``since``, the significant changes after it."""

    root: Operation
    descendants: list[Operation]
    version: int
    changes: list[Change]
    complete: bool  # ``changes`` is every significant change after ``since``

    @property
    def nodes(self) -> list[Operation]:
        return [self.root, *self.descendants]
