"""Many readers of one tree: one feed watch, progress answers spread out and slowed so the
tree's answers a second stay bounded (issue 21 item 16, ``benchmarks/watchers.py``)."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

from ktrdr.api.tree_hub import PROGRESS_COALESCE_SECONDS, READERS_AT_FULL_RATE, TreeHub
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationType
from tests.support.progress import report


def test_readers_share_one_watch_and_progress_slows_with_their_number() -> None:
    async def scenario() -> None:
        service = OperationsService(InMemoryOperationStore())
        op = service.create(OperationType.TRAINING)
        service.start(op.operation_id)
        hub = TreeHub(service, asyncio.get_running_loop())
        alone = [hub.progress_delay(op.operation_id) for _ in range(200)]
        assert all(PROGRESS_COALESCE_SECONDS <= d <= 1.5 * PROGRESS_COALESCE_SECONDS for d in alone)
        assert max(alone) - min(alone) > 0.02  # spread, not one burst
        readers = 10 * READERS_AT_FULL_RATE
        seen, _ = service.tree_status(op.operation_id, 0)  # every reader is up to date
        assert seen is not None
        with ExitStack() as stack:
            waiters = [
                stack.enter_context(hub.waiting(op.operation_id, seen)) for _ in range(readers)
            ]
            assert service.watcher_count() == 1 and hub.held() == readers
            crowded = [hub.progress_delay(op.operation_id) for _ in range(200)]
            assert min(crowded) >= 10 * PROGRESS_COALESCE_SECONDS
            # A report wakes every reader not yet holding progress, through one fan-out.
            waiters[0].holding_progress = True
            report(service, op.operation_id, 5.0, "Epoch 1/20")
            await asyncio.sleep(0.01)
            assert not waiters[0].woke.is_set()  # progress only: its own timer answers it
            assert all(w.woke.is_set() for w in waiters[1:])
            service.complete(op.operation_id, {})
            await asyncio.sleep(0.01)
            assert waiters[0].woke.is_set()  # more than progress wakes it too
        assert service.watcher_count() == 0 and hub.held() == 0

    asyncio.run(scenario())
