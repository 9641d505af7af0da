"""The service under test and the in-memory store behind it, shared by every rule file here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore


@pytest.fixture
def store() -> InMemoryOperationStore:
    return InMemoryOperationStore()


@pytest.fixture
def service(store: InMemoryOperationStore) -> Iterator[OperationsService]:
    # A long grace: nothing is force-cancelled unless a test asks for it.
    svc = OperationsService(store, cancel_grace_seconds=60)
    yield svc
    svc.close()
