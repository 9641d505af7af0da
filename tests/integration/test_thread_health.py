"""A backend thread that dies of an exception is recorded with its name and error, and /health
says so (``threads_problem``, status "degraded") instead of "ok": the write-behind flusher
and the cancel timer used to die silently at their first wait."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.operations.threads import THREADS, ThreadRegistry
from ktrdr.records.models import OperationType
from ktrdr.storage.write_behind import WriteBehindStore
from tests.support.served import served_in_process
from tests.support.waiting import wait_until


@pytest.fixture(autouse=True)
def _no_deaths_left_behind() -> Iterator[None]:
    """These tests kill threads of this process on purpose: later tests start clean."""
    THREADS.clear()
    yield
    THREADS.clear()


def explode(message: str) -> None:
    raise RuntimeError(message)


def test_a_thread_that_raises_is_recorded_and_one_that_returns_is_not() -> None:
    """Item 14: the registry records an exception that ends a thread, with its name."""
    registry = ThreadRegistry()
    fine = registry.thread(lambda: None, name="ktrdr-fine")
    dying = registry.thread(explode, name="ktrdr-dying", args=("disk on fire",))
    for thread in (fine, dying):
        assert thread.daemon
        thread.start()
        thread.join(5)
    [death] = registry.deaths()
    assert (death.thread, death.error) == ("ktrdr-dying", "RuntimeError: disk on fire")
    problem = registry.problem()
    assert problem is not None and "ktrdr-dying" in problem and "disk on fire" in problem
    for _ in range(30):  # a thread that keeps dying: counted, its records bounded
        again = registry.thread(explode, name="ktrdr-again", args=("again",))
        again.start()
        again.join(5)
    assert len(registry.deaths()) == 20
    assert registry.problem() == f"{problem} (and 30 more)"  # the first death stays the cause


def test_a_timer_that_cannot_wait_is_recorded() -> None:
    """Item 14: an infinite interval killed threading.Timer at its wait; now it is recorded."""
    registry = ThreadRegistry()
    fired = threading.Event()
    timer = registry.timer(float("inf"), fired.set, name="ktrdr-cancel-timer")
    timer.start()
    timer.join(5)
    [death] = registry.deaths()
    assert death.thread == "ktrdr-cancel-timer" and death.error.startswith("OverflowError")
    assert not fired.is_set()
    quick = registry.timer(0.01, fired.set, name="ktrdr-quick")
    quick.start()
    quick.join(5)
    assert fired.is_set() and len(registry.deaths()) == 1


def test_guarded_pool_work_is_recorded_and_still_fails_its_future() -> None:
    """Item 14: an executor's work that crashes is recorded; its future still raises."""
    registry = ThreadRegistry()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(registry.guarded("ktrdr-job", explode), "job crashed")
        with pytest.raises(RuntimeError, match="job crashed"):
            future.result(5)
        assert pool.submit(registry.guarded("ktrdr-job", lambda: 7)).result(5) == 7
    assert [d.thread for d in registry.deaths()] == ["ktrdr-job"]


def test_the_cancel_timer_of_the_service_is_watched() -> None:
    """Item 14: the service's cancel timer (a real start site) dying shows in the registry."""
    service = OperationsService(InMemoryOperationStore(), cancel_grace_seconds=float("inf"))
    try:
        op = service.create(OperationType.TRAINING)
        service.start(op.operation_id)
        service.cancel(op.operation_id)
        assert wait_until(lambda: bool(THREADS.deaths()), 5)
        [death] = THREADS.deaths()
        assert death.thread.startswith("ktrdr-cancel-timer") and "OverflowError" in death.error
    finally:
        service.close()


def test_the_write_behind_flusher_is_watched() -> None:
    """Item 14: the flusher dying at its first wait (an unwaitable interval) is recorded."""
    store = WriteBehindStore(InMemoryOperationStore(), flush_interval=float("inf"))
    try:
        assert wait_until(lambda: bool(THREADS.deaths()), 5)
        [death] = THREADS.deaths()
        assert death.thread == "ktrdr-operations-flusher" and "OverflowError" in death.error
    finally:
        store.close()


def test_a_dead_thread_shows_in_health(tmp_path: Path) -> None:
    """Item 14: /health turns "degraded" and names the thread and its error."""
    with served_in_process(tmp_path / "data") as served, httpx.Client(timeout=10) as http:
        healthy = http.get(f"{served.api}/health").json()["data"]
        assert healthy["status"] == "ok" and healthy["threads_problem"] is None
        dying = THREADS.thread(explode, name="ktrdr-operations-flusher", args=("boom",))
        dying.start()
        dying.join(5)
        health = http.get(f"{served.api}/health").json()["data"]
        assert health["status"] == "degraded"
        assert "ktrdr-operations-flusher" in health["threads_problem"]
        assert "RuntimeError: boom" in health["threads_problem"]
        assert http.get(f"{served.api}/operations").status_code == 200  # still serving
