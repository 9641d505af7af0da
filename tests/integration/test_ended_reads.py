"""An ended operation's answer is served from memory (issue 21, item 17): the cached bytes
must be exactly what a fresh render says, and nothing that can still change is cached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ktrdr.api.documents import EndedDocuments, render_operation
from ktrdr.records.models import OperationType
from tests.support.progress import report
from tests.support.served import Served, served_in_process


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_in_process(tmp_path / "data") as server:
        yield server


def _read(http: httpx.Client, operation_id: str) -> dict[str, object]:
    reply = http.get(f"/operations/{operation_id}")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    data: dict[str, object] = reply.json()["data"]
    return data


def test_a_parent_is_cached_only_once_it_and_its_children_have_ended(served: Served) -> None:
    """Item 17: an ended parent with a running child still shows the child's later end."""
    service = served.service
    parent = service.create(OperationType.AGENT_RESEARCH)
    service.start(parent.operation_id)
    child = service.create(OperationType.TRAINING, parent_operation_id=parent.operation_id)
    service.start(child.operation_id)
    # The parent ends first (a cancel whose child is still stopping, as a cascade leaves it).
    service.complete(parent.operation_id, {})
    with httpx.Client(base_url=served.api, timeout=10) as http:
        first = _read(http, parent.operation_id)
        assert first["status"] == "completed"
        assert first["children"][0]["status"] == "running"  # type: ignore[index]
        service.complete(child.operation_id, {})
        second = _read(http, parent.operation_id)
        assert second["children"][0]["status"] == "completed"  # type: ignore[index]
        # Now it is cached, and the cache gives exactly a fresh render's bytes.
        cached = http.get(f"/operations/{parent.operation_id}").content
        fresh, ended = render_operation(service, parent.operation_id)
        assert ended
        assert cached == fresh


def test_a_running_operation_is_never_served_stale(served: Served) -> None:
    """Item 17: every read of open work shows its newest progress."""
    service = served.service
    op = service.create(OperationType.TRAINING)
    service.start(op.operation_id)
    with httpx.Client(base_url=served.api, timeout=10) as http:
        for step in range(1, 4):
            report(service, op.operation_id, 10.0 * step, f"Epoch {step}/9")
            progress = _read(http, op.operation_id)["progress"]
            assert progress["percentage"] == 10.0 * step  # type: ignore[index]
        service.complete(op.operation_id, {"epochs_completed": 3})
        assert _read(http, op.operation_id)["status"] == "completed"
        assert _read(http, op.operation_id)["result_summary"] == {"epochs_completed": 3}


def test_an_unknown_operation_is_still_a_404(served: Served) -> None:
    with httpx.Client(base_url=served.api, timeout=10) as http:
        reply = http.get("/operations/op_training_20260101_000000_deadbeef")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "operation_not_found"


def test_the_cache_keeps_only_the_newest_answers() -> None:
    documents = EndedDocuments(capacity=2)
    for name in ("a", "b", "c"):
        documents.put(name, name.encode())
    assert documents.get("a") is None
    assert documents.get("b") == b"b"
    documents.put("d", b"d")  # b was read last, so c goes
    assert documents.get("c") is None
    assert (documents.get("b"), documents.get("d"), len(documents)) == (b"b", b"d", 2)
