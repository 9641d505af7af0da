"""The children of a cycle that runs many at once: which are open, which ended, and a wait
that wakes on any change below the cycle (the service's change feed, no polling).

The worker reads children through here and never holds the service's lock while it works:
a wake only sets an event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation, OperationStatus

# The longest the worker sleeps without a wake (a cancel also wakes it: it is a change).
WAIT_SLICE_SECONDS = 0.5
# After a wake, changes are let gather this long before the worker looks: children report
# many times a second, and the worker only needs their ends and the active child.
GATHER_SECONDS = 0.05


@dataclass
class Child:
    operation_id: str
    role: str
    candidate: int
    fold: int | None = None  # None for a final training or a holdout backtest
    kind: str = "training"  # training | backtest
    cost_multiplier: float | None = None


@dataclass
class Children:
    """Every child the cycle made, in creation order, and their last known state."""

    service: OperationsService
    parent_id: str
    made: list[Child] = field(default_factory=list)
    _ended: dict[str, Operation] = field(default_factory=dict)
    _wake: threading.Event = field(default_factory=threading.Event)

    def add(self, child: Child) -> Child:
        self.made.append(child)
        self._wake.set()
        return child

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.operation_id for c in self.made)

    def ended(self, child: Child) -> Operation | None:
        return self._ended.get(child.operation_id)

    def refresh(self) -> list[tuple[Child, Operation]]:
        """Children that ended since the last refresh, with their final state."""
        newly: list[tuple[Child, Operation]] = []
        for child in self.made:
            if child.operation_id in self._ended:
                continue
            if self.service.peek(child.operation_id).is_terminal:
                op = self.service.get(child.operation_id)  # ended: a copy of its own to keep
                self._ended[child.operation_id] = op
                newly.append((child, op))
        return newly

    def open(self) -> list[Child]:
        return [c for c in self.made if c.operation_id not in self._ended]

    def active(self, kind: str | None = None) -> str | None:
        """The least advanced running child (the seed's ``child_op_id``), else the first
        waiting one, else None; ``kind`` (training | backtest) looks at that kind only."""
        return self.actives().get(kind)

    def actives(self) -> dict[str | None, str]:
        """``active`` for every child (key None) and for each kind, in one read of them."""
        running: dict[str | None, list[tuple[float, int, str]]] = {}
        waiting: dict[str | None, list[str]] = {}
        for order, child in enumerate(self.open()):
            op = self.service.peek(child.operation_id)
            for key in (None, child.kind):
                if op.status is OperationStatus.RUNNING:
                    entry = (op.progress.percentage, order, child.operation_id)
                    running.setdefault(key, []).append(entry)
                elif op.status is OperationStatus.PENDING:
                    waiting.setdefault(key, []).append(child.operation_id)
        found = {key: min(entries)[2] for key, entries in running.items()}
        for key, ids in waiting.items():
            found.setdefault(key, ids[0])
        return found

    @contextmanager
    def watching(self) -> Iterator[None]:
        """While inside, any change in the parent's tree wakes ``wait``."""
        unwatch = self.service.watch(self.parent_id, self._wake.set)
        try:
            yield
        finally:
            unwatch()

    def wait(self, timeout: float = WAIT_SLICE_SECONDS) -> None:
        if self._wake.wait(timeout):
            time.sleep(GATHER_SECONDS)
        self._wake.clear()
