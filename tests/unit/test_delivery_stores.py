"""The deliveries store's rules, held by both stores (SQLite, as a backend with a database
keeps them, and the memory-only one): one delivery per (subject, event, receiver), claims
leased, attempts kept in order, a batch's deliveries made once when its last member ends,
and SQLite keeping all of it across a reopen."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

import pytest

from ktrdr.notify.deliveries import (
    Attempt,
    BatchJoin,
    BatchMember,
    DeliveryState,
    DeliveryStore,
    InMemoryDeliveryStore,
    NewDelivery,
)
from ktrdr.storage.deliveries import SqliteDeliveryStore, deliveries_path


def new(subject: str, url: str = "http://a.example/x", at: float = 100.0) -> NewDelivery:
    return NewDelivery(f"msg_{subject}", subject, "operation.completed", url, b"{}", at)


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeliveryStore]:
    made: DeliveryStore = (
        SqliteDeliveryStore(tmp_path / "d.webhooks.db")
        if request.param == "sqlite"
        else InMemoryDeliveryStore()
    )
    yield made
    made.close()


def test_one_delivery_per_subject_event_and_receiver(store: DeliveryStore) -> None:
    assert store.add([new("op_1"), new("op_1", "http://b.example/y")]) == 2
    assert store.add([new("op_1")]) == 0  # the same end seen again
    assert [r.delivery.url for r in store.for_operation("op_1")] == [
        "http://a.example/x",
        "http://b.example/y",
    ]
    assert store.for_operation("op_2") == []


def test_a_claim_is_leased_so_it_is_not_handed_out_twice(store: DeliveryStore) -> None:
    store.add([new("op_1", at=100.0), new("op_2", at=101.0), new("op_3", at=102.0)])
    assert store.next_due() == 100.0
    assert store.claim_due(now=99.0, lease_until=200.0, limit=5) == []  # not due yet
    first = store.claim_due(now=100.5, lease_until=200.0, limit=5)
    assert [d.subject_id for d in first] == ["op_1"]
    # op_1 is leased until 200: later claims hand out the others only, within the limit.
    assert [d.subject_id for d in store.claim_due(150.0, 300.0, limit=1)] == ["op_2"]
    skipped = store.claim_due(150.0, 300.0, limit=5, exclude=[first[0].delivery_id])
    assert [d.subject_id for d in skipped] == ["op_3"]
    assert store.claim_due(150.0, 300.0, limit=5) == []
    assert store.next_due() == 200.0


def test_the_lease_runs_out_for_a_claim_never_recorded(store: DeliveryStore) -> None:
    store.add([new("op_1", at=100.0)])
    (claimed,) = store.claim_due(now=100.0, lease_until=130.0, limit=1)
    assert store.next_due() == 130.0
    assert store.claim_due(now=129.0, lease_until=160.0, limit=1) == []
    (back,) = store.claim_due(now=130.0, lease_until=160.0, limit=1)  # as after a kill
    assert back.delivery_id == claimed.delivery_id and back.message_id == claimed.message_id


def test_attempts_are_kept_in_order_and_end_the_delivery(store: DeliveryStore) -> None:
    store.add([new("op_1")])
    (delivery,) = store.claim_due(now=100.0, lease_until=130.0, limit=1)
    failed = Attempt(1, 100.0, 0.01, 500, "HTTP 500", 105.0)
    store.record_attempt(delivery.delivery_id, failed, DeliveryState.DUE)
    assert store.next_due() == 105.0
    (delivery,) = store.claim_due(now=105.0, lease_until=130.0, limit=1)
    assert delivery.attempts == 1
    done = Attempt(2, 105.0, 0.02, 204, None, None)
    store.record_attempt(delivery.delivery_id, done, DeliveryState.DELIVERED)
    (record,) = store.for_operation("op_1")
    assert record.attempts == (failed, done)
    assert record.delivery.state is DeliveryState.DELIVERED and record.delivery.due_at is None
    assert store.next_due() is None and store.claim_due(1e12, 1e12, 5) == []


def test_a_batch_gets_its_deliveries_once_when_its_last_member_ends(store: DeliveryStore) -> None:
    made: list[int] = []

    def when_full(members: Sequence[BatchMember]) -> list[NewDelivery]:
        made.append(len(members))
        return [NewDelivery("msg_b", "batch_1", "batch.ended", "http://a.example/x", b"{}", 1.0)]

    def join(op: str) -> BatchJoin:
        return BatchJoin(BatchMember("batch_1", 3, op, "{}"), when_full)

    for op in ("op_1", "op_2"):
        assert store.add([new(op)], join(op)) == 1
    assert made == []
    assert store.add([new("op_2")], join("op_2")) == 0  # a repeat changes nothing
    assert made == []
    assert store.add([new("op_3")], join("op_3")) == 2
    assert made == [3]
    # Each member's read shows its own delivery and the batch's.
    events = [r.delivery.event_type for r in store.for_operation("op_1")]
    assert events == ["operation.completed", "batch.ended"]


def test_sqlite_keeps_deliveries_and_attempts_across_a_reopen(tmp_path: Path) -> None:
    path = deliveries_path(tmp_path / "ktrdr.db")
    assert path.name == "ktrdr.webhooks.db"
    store = SqliteDeliveryStore(path)
    store.add([new("op_1")])
    (delivery,) = store.claim_due(now=100.0, lease_until=130.0, limit=1)
    store.record_attempt(
        delivery.delivery_id, Attempt(1, 100.0, 0.1, None, "timed out", 110.0), DeliveryState.DUE
    )
    store.close()
    reopened = SqliteDeliveryStore(path)
    try:
        (record,) = reopened.for_operation("op_1")
        assert record.delivery.due_at == 110.0 and record.attempts[0].error == "timed out"
        assert [d.message_id for d in reopened.claim_due(110.0, 140.0, 1)] == ["msg_op_1"]
    finally:
        reopened.close()


def test_sqlite_holds_its_file_as_the_operations_database_does(tmp_path: Path) -> None:
    """Exclusive WAL: no memory-mapped -shm file, no foreign reader while open."""
    path = tmp_path / "d.webhooks.db"
    store = SqliteDeliveryStore(path)
    store.add([new("op_1")])
    assert not path.with_name(path.name + "-shm").exists()
    locked_out = pytest.raises(sqlite3.OperationalError, match="locked")
    with closing(sqlite3.connect(path, timeout=0)) as other, locked_out:
        other.execute("SELECT COUNT(*) FROM deliveries").fetchall()
    store.close()
    with closing(sqlite3.connect(path)) as other:
        assert other.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
