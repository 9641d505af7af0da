"""A store that hands every call to another: tests subclass it to change one behaviour
(writes held up, writes failing) while the rest stays a real store's."""

from __future__ import annotations

from collections.abc import Iterable

from ktrdr.operations.store import OperationQuery, OperationStore, Tally
from ktrdr.records.models import Operation
from ktrdr.records.summary import OperationSummary


class PassThroughStore:
    def __init__(self, inner: OperationStore) -> None:
        self.inner = inner

    def save_many(self, operations: Iterable[Operation]) -> None:
        self.inner.save_many(operations)

    def load_open(self) -> list[Operation]:
        return self.inner.load_open()

    def get(self, operation_id: str) -> Operation | None:
        return self.inner.get(operation_id)

    def page(self, query: OperationQuery) -> list[OperationSummary]:
        return self.inner.page(query)

    def count(self, query: OperationQuery) -> int:
        return self.inner.count(query)

    def tally(self) -> Tally:
        return self.inner.tally()

    def close(self) -> None:
        self.inner.close()
