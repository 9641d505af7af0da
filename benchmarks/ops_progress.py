"""The cost of one progress update (what a worker's reporter calls).

In-memory store (the baseline) vs SQLite, coalesced and write-through, in the same run.
Each store sits behind the write-behind cache, so only the store differs; the service and
its listeners over it are built as the backend builds them (``ktrdr.bootstrap``).

python -m benchmarks.ops_progress [--calls 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import save, table
from ktrdr.bootstrap import build_operations
from ktrdr.config import load_settings
from ktrdr.operations.progress import ProgressUpdate
from ktrdr.operations.store import InMemoryOperationStore, OperationStore
from ktrdr.records.models import OperationType
from ktrdr.storage.sqlite_store import SqliteOperationStore
from ktrdr.storage.write_behind import WriteBehindStore


def per_call_us(store: OperationStore, flush_interval: float, calls: int) -> float:
    cache = WriteBehindStore(store, flush_interval=flush_interval)
    operations = build_operations(load_settings(), store=cache)
    service = operations.service
    op = service.create(OperationType.TRAINING)
    service.start(op.operation_id)
    start = time.perf_counter()
    for i in range(calls):
        service.update_progress(
            op.operation_id,
            ProgressUpdate(
                i / calls * 99,
                f"Epoch {i}/{calls}",
                items_processed=i,
                items_total=calls,
            ),
        )
    elapsed = time.perf_counter() - start
    operations.close()
    return elapsed / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        memory = per_call_us(InMemoryOperationStore(), 0.5, args.calls)
        sqlite = per_call_us(SqliteOperationStore(Path(tmp) / "a.db"), 0.5, args.calls)
        through = per_call_us(SqliteOperationStore(Path(tmp) / "b.db"), 0.0, args.calls)
    print(f"update_progress (a worker's progress update), mean over {args.calls:,} calls")
    table(
        [
            ("in-memory store (baseline)", f"{memory:.1f} µs"),
            ("SQLite, coalesced (default)", f"{sqlite:.1f} µs ({sqlite / memory:.2f}x)"),
            ("SQLite, write-through", f"{through:.1f} µs ({through / memory:.2f}x)"),
        ]
    )
    save(
        "ops_progress",
        {"memory_us": memory, "sqlite_coalesced_us": sqlite, "sqlite_write_through_us": through},
    )


if __name__ == "__main__":
    main()
