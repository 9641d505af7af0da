"""The plain answer to an operations listing: scan everything, filter, newest first.

The service answers from indexes; this is what it must agree with (property tests) and
what the SQLite store's indexed queries must match too.
"""

from __future__ import annotations

from ktrdr.records.models import OperationStatus, OperationType
from ktrdr.records.summary import OperationSummary


def scan(
    ops: list[OperationSummary],  # in the order they were created
    status: OperationStatus | None = None,
    op_type: OperationType | None = None,
    parent: str | None = None,
) -> list[OperationSummary]:
    matching = [
        op
        for op in ops
        if (status is None or op.status is status)
        and (op_type is None or op.operation_type is op_type)
        and (parent is None or op.parent_operation_id == parent)
    ]
    # ``ops`` come in creation order; "newest" is the latest created, whatever its
    # ``created_at`` says (a clock may have been set back in between).
    return matching[::-1]
