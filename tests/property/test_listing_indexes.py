"""The service's listing (open operations from memory, history through the store's indexes,
totals from its tally) answers exactly what a plain scan-filter-sort over every operation
answers, for any history of changes, on the in-memory and the SQLite store alike."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ktrdr.errors import KtrdrError
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore, OperationStore
from ktrdr.operations.summary import summarize
from ktrdr.records.models import OperationStatus, OperationType
from ktrdr.records.summary import OperationSummary
from ktrdr.storage.sqlite_store import SqliteOperationStore
from ktrdr.storage.write_behind import WriteBehindStore
from tests.support.moves import STATUS_MOVES
from tests.support.progress import report
from tests.support.reference import scan

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["create", "child", "start", "progress", "complete", "fail", "cancel", "ack"]
        ),
        st.integers(min_value=0, max_value=3),  # which operation: mostly the same few
        st.sampled_from(list(OperationType)),
        # The clock: often still, sometimes on, sometimes set back an hour.
        st.sampled_from([0, 0, 0, 1, -1]),
    ),
    max_size=60,
)


def reference(
    ops: list[OperationSummary],
    status: OperationStatus | None,
    op_type: OperationType | None,
    parent: str | None,
) -> list[str]:
    return [op.operation_id for op in scan(ops, status, op_type, parent)]


@given(
    ACTIONS,
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=8),
    st.sampled_from(["memory", "sqlite", "coalesced"]),
)
def test_listing_matches_a_full_scan(
    actions: list[tuple[str, int, OperationType, int]], offset: int, limit: int, kind: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store: OperationStore
        if kind == "memory":
            store = InMemoryOperationStore()
        else:
            store = SqliteOperationStore(Path(tmp) / "o.db")
        if kind == "coalesced":  # progress stays in memory: listings must show it anyway
            store = WriteBehindStore(store, flush_interval=3600)
        check_listing(store, actions, offset, limit)


def check_listing(
    store: OperationStore,
    actions: list[tuple[str, int, OperationType, int]],
    offset: int,
    limit: int,
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    service = OperationsService(store, cancel_grace_seconds=60, clock=lambda: now[0])
    ids: list[str] = []
    try:
        for action, pick, op_type, tick in actions:
            if tick:
                now[0] += timedelta(microseconds=1) if tick > 0 else timedelta(hours=-1)
            target = ids[pick % len(ids)] if ids else None
            try:
                if action == "create" or target is None:
                    ids.append(service.create(op_type).operation_id)
                elif action == "child":
                    ids.append(service.create(op_type, parent_operation_id=target).operation_id)
                elif action == "progress":  # started first if need be
                    if service.get(target).status is OperationStatus.PENDING:
                        service.start(target)
                    report(service, target, 10.0 + len(ids), "step")
                else:
                    STATUS_MOVES[action](service, target)
            except KtrdrError:
                pass  # refused moves are part of the history too

        everything = [summarize(service.get(i)) for i in ids]
        live = {row.operation_id: row for row in everything}
        parents = [None, *{op.parent_operation_id for op in everything} - {None}, "op_missing"]
        for status, op_type, parent in product(
            [None, *OperationStatus], [None, *OperationType], parents
        ):
            expected = reference(everything, status, op_type, parent)
            page, total = service.list_operations(
                status=status,
                operation_type=op_type,
                parent_operation_id=parent,
                limit=limit,
                offset=offset,
            )
            assert total == len(expected), (status, op_type, parent)
            assert [op.operation_id for op in page] == expected[offset : offset + limit]
            # ...and each row is the live one, not a stale copy from before a change.
            assert [(r.status, r.version, r.percentage) for r in page] == [
                (live[i].status, live[i].version, live[i].percentage)
                for i in expected[offset : offset + limit]
            ]
        for op in everything:
            kids = reference(everything, None, None, op.operation_id)[::-1]
            assert [c.operation_id for c in service.children(op.operation_id)] == kids
    finally:
        service.close()
