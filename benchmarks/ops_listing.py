"""Reads that a monitor, `agent status` and `ops list` make, with many operations stored.

The baseline, measured in the same run on the same operations, is a plain scan over every
operation (filter, then sort), which is what the service did before it kept indexes. The
service holds its lock during a read, so a slow read also delays every progress report.

python -m benchmarks.ops_listing [--cycles 20000]
"""

from __future__ import annotations

import argparse
import logging

import structlog

from benchmarks.common import best_of, save, table
from ktrdr.operations.models import Operation, OperationStatus, OperationType
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from tests.support.reference import scan


def copies(page: list[Operation]) -> list[Operation]:
    """What the service hands out: private copies (the old scan did this too)."""
    return [op.model_copy(deep=True) for op in page]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=20_000, help="cycles, each with a child")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    service = OperationsService(InMemoryOperationStore(), flush_interval=0.5)
    parent = ""
    for _ in range(args.cycles):
        parent = service.create(OperationType.AGENT_RESEARCH).operation_id
        service.start(parent)
        child = service.create(OperationType.TRAINING, parent_operation_id=parent).operation_id
        service.start(child)
        service.complete(child)
        service.complete(parent)
    running = service.create(OperationType.TRAINING).operation_id
    service.start(running)
    everything, _ = service.list_operations(limit=10**9)

    cases = [
        (
            "children of a cycle (every monitor poll)",
            lambda: service.children(parent),
            lambda: copies(scan(everything, parent=parent)),
        ),
        (
            "running operations count (health, active cycle)",
            lambda: service.list_operations(status=OperationStatus.RUNNING, limit=0),
            lambda: len(scan(everything, status=OperationStatus.RUNNING)),
        ),
        (
            "newest research cycle (agent status)",
            lambda: service.list_operations(operation_type=OperationType.AGENT_RESEARCH, limit=1),
            lambda: copies(scan(everything, op_type=OperationType.AGENT_RESEARCH)[:1]),
        ),
        (
            "newest 100 operations (ops list)",
            lambda: service.list_operations(limit=100),
            lambda: copies(scan(everything)[:100]),
        ),
    ]
    rows, results = [], {}
    for name, indexed, baseline in cases:
        fast = best_of(indexed, repeats=20) * 1000
        slow = best_of(baseline, repeats=5) * 1000
        results[name] = {"indexed_ms": fast, "scan_ms": slow}
        rows.append((name, f"{fast:.3f} ms vs scan {slow:.2f} ms ({slow / fast:,.0f}x)"))
    service.close()
    print(f"{len(everything):,} operations in memory; best of repeated calls")
    table(rows)
    save("ops_listing", results)


if __name__ == "__main__":
    main()
