"""What the notifier keeps of each delivery, and the port of the store that keeps it.

A delivery is one message to one receiver; it is tried until a receiver answers 2xx
(``delivered``) or its retry time runs out (``gave_up``). Every attempt is kept with what
came of it. ``SqliteDeliveryStore`` (``ktrdr.storage.deliveries``) keeps them across
restarts; ``InMemoryDeliveryStore`` serves a memory-only (ephemeral) backend.

A delivery's ``due_at`` is when it should next be sent. Claiming one for sending moves it
to the end of a lease, so a process killed mid-send sends it again after a restart (with
the same ``webhook-id``: the receiver can tell), while a live one never sends it twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol


class DeliveryState(StrEnum):
    DUE = "due"
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"


@dataclass(frozen=True)
class NewDelivery:
    message_id: str  # the webhook-id: one per event, the same on every attempt
    subject_id: str  # the operation's id, or the batch's
    event_type: str
    url: str
    body: bytes  # the JSON sent, exactly as signed
    created_at: float  # Unix seconds


@dataclass(frozen=True)
class Delivery(NewDelivery):
    delivery_id: int
    state: DeliveryState
    due_at: float | None  # None once delivered or given up
    attempts: int


@dataclass(frozen=True)
class Attempt:
    number: int  # 1 for the first
    started_at: float
    seconds: float
    status_code: int | None  # None when no answer came (refused, timed out, ...)
    error: str | None  # None when delivered
    next_attempt_at: float | None  # None when it was the last


@dataclass(frozen=True)
class DeliveryRecord:
    delivery: Delivery
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True)
class BatchMember:
    """A cycle of a ``--count`` batch that has ended; ``item`` is its part of the batch's
    message (JSON)."""

    batch_id: str
    size: int
    operation_id: str
    item: str


# Makes the batch's deliveries from its members, once every member has ended.
WhenFull = Callable[[Sequence[BatchMember]], Sequence[NewDelivery]]


@dataclass(frozen=True)
class BatchJoin:
    """A cycle joining its batch: the member to keep, and what makes the batch's own
    deliveries when that member is the last to end."""

    member: BatchMember
    when_full: WhenFull


class DeliveryStore(Protocol):
    def add(self, deliveries: Sequence[NewDelivery], join: BatchJoin | None = None) -> int:
        """Keep ``deliveries`` (due now) and ``join.member`` in one transaction; when that
        member completes its batch, the deliveries ``join.when_full`` makes of the batch's
        members too.
        A delivery for a (subject, event, url) already kept is ignored. Returns how many
        deliveries were added."""
        ...

    def claim_due(
        self, now: float, lease_until: float, limit: int, exclude: Iterable[int] = ()
    ) -> list[Delivery]:
        """Up to ``limit`` deliveries due by ``now`` (oldest due first, ``exclude`` left
        out), each moved to ``lease_until``."""
        ...

    def next_due(self) -> float | None:
        """When the earliest delivery still due is due, or None when none is."""
        ...

    def record_attempt(self, delivery_id: int, attempt: Attempt, state: DeliveryState) -> None:
        """Keep ``attempt``; the delivery is then ``state``, due at its next attempt."""
        ...

    def for_operation(self, operation_id: str) -> list[DeliveryRecord]:
        """The deliveries about an operation and about each batch it belongs to, oldest
        first, with their attempts."""
        ...

    def close(self) -> None: ...


def full_batch(members: Sequence[BatchMember], member: BatchMember) -> bool:
    """Whether ``members`` (the batch's, ``member`` among them) are all of it."""
    return len({m.operation_id for m in members}) >= member.size


class InMemoryDeliveryStore:
    """The store of a memory-only backend: the same rules, kept until the process ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: dict[int, Delivery] = {}
        self._attempts: dict[int, list[Attempt]] = {}
        self._keys: set[tuple[str, str, str]] = set()
        self._members: dict[str, dict[str, BatchMember]] = {}

    def add(self, deliveries: Sequence[NewDelivery], join: BatchJoin | None = None) -> int:
        with self._lock:
            added = self._add(deliveries)
            if join is None:
                return added
            member = join.member
            batch = self._members.setdefault(member.batch_id, {})
            if member.operation_id in batch:
                return added
            batch[member.operation_id] = member
            members = list(batch.values())
            if full_batch(members, member):
                added += self._add(join.when_full(members))
            return added

    def _add(self, deliveries: Sequence[NewDelivery]) -> int:
        added = 0
        for new in deliveries:
            key = (new.subject_id, new.event_type, new.url)
            if key in self._keys:
                continue
            self._keys.add(key)
            delivery_id = len(self._deliveries) + 1
            self._deliveries[delivery_id] = Delivery(
                **vars(new),
                delivery_id=delivery_id,
                state=DeliveryState.DUE,
                due_at=new.created_at,
                attempts=0,
            )
            self._attempts[delivery_id] = []
            added += 1
        return added

    def claim_due(
        self, now: float, lease_until: float, limit: int, exclude: Iterable[int] = ()
    ) -> list[Delivery]:
        skipped = set(exclude)
        with self._lock:
            due = sorted(
                (
                    d
                    for d in self._deliveries.values()
                    if d.due_at is not None and d.due_at <= now and d.delivery_id not in skipped
                ),
                key=lambda d: (d.due_at or 0.0, d.delivery_id),
            )[: max(0, limit)]
            for d in due:
                self._deliveries[d.delivery_id] = replace(d, due_at=lease_until)
            return due

    def next_due(self) -> float | None:
        with self._lock:
            times = [d.due_at for d in self._deliveries.values() if d.due_at is not None]
        return min(times, default=None)

    def record_attempt(self, delivery_id: int, attempt: Attempt, state: DeliveryState) -> None:
        with self._lock:
            delivery = self._deliveries[delivery_id]
            self._attempts[delivery_id].append(attempt)
            due = attempt.next_attempt_at if state is DeliveryState.DUE else None
            self._deliveries[delivery_id] = replace(
                delivery, state=state, due_at=due, attempts=attempt.number
            )

    def for_operation(self, operation_id: str) -> list[DeliveryRecord]:
        with self._lock:
            subjects = {operation_id} | {
                batch for batch, members in self._members.items() if operation_id in members
            }
            return [
                DeliveryRecord(d, tuple(self._attempts[d.delivery_id]))
                for d in sorted(self._deliveries.values(), key=lambda d: d.delivery_id)
                if d.subject_id in subjects
            ]

    def close(self) -> None:
        pass
