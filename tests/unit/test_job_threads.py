"""Every job computes under the BLAS/OpenMP thread cap, in both executors, as the job sees it.

Each case is run with a cap of 1 and of 3: a library default can equal one of them, never
both, so the pair fails if the cap is not applied. The job reports the pools it sees from
its own thread (OpenMP's setting is per thread) and process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from ktrdr.config import load_settings
from ktrdr.errors import ConfigurationError
from ktrdr.executors.job_threads import cap_job_threads
from ktrdr.executors.process import ProcessExecutor
from ktrdr.executors.thread import LocalExecutor
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.execution import JobResult
from ktrdr.operations.progress import ProgressReporter
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationStatus, OperationType
from tests.support.waiting import finished

JOB_TIMEOUT = 30.0  # the first process job also starts the fork server


@dataclass(frozen=True)
class SeesPools:
    """Returns the thread count of every BLAS/OpenMP pool, as seen where the job runs."""

    def __call__(self, reporter: ProgressReporter, token: CancellationToken) -> JobResult:
        import sklearn  # noqa: F401 - what a training loads (its OpenMP runtime included)

        return {
            "pid": os.getpid(),
            "pools": {
                f"{p['user_api']} {p['filepath']}": p["num_threads"] for p in threadpool_info()
            },
        }


@pytest.fixture
def service() -> Iterator[OperationsService]:
    svc = OperationsService(InMemoryOperationStore())
    yield svc
    svc.close()


@pytest.fixture
def restored_pools() -> Iterator[None]:
    """The thread executor changes this process's BLAS pool: put it back afterwards."""
    with threadpool_limits(limits=None):
        yield


def pools_seen(service: OperationsService, executor: LocalExecutor | ProcessExecutor) -> JobResult:
    op_id = service.create(OperationType.TRAINING).operation_id
    executor.submit(op_id, SeesPools())
    op = finished(service, op_id, JOB_TIMEOUT)
    assert op.status is OperationStatus.COMPLETED, op.error_message
    assert op.result_summary is not None
    return op.result_summary


@pytest.mark.parametrize("threads", [1, 3])
def test_thread_executor_jobs_run_under_the_cap(
    service: OperationsService, restored_pools: None, threads: int
) -> None:
    executor = LocalExecutor(service, max_workers=2, job_threads=threads)
    try:
        seen = pools_seen(service, executor)
    finally:
        executor.shutdown()
    kinds = {name.split()[0] for name in seen["pools"]}
    assert {"blas", "openmp"} <= kinds
    assert set(seen["pools"].values()) == {threads}


@pytest.mark.parametrize("threads", [1, 3])
def test_process_executor_jobs_run_under_the_cap(service: OperationsService, threads: int) -> None:
    executor = ProcessExecutor(service, max_workers=1, job_threads=threads)
    try:
        seen = pools_seen(service, executor)
    finally:
        executor.shutdown()
    assert seen["pid"] != os.getpid()
    assert {name.split()[0] for name in seen["pools"]} >= {"blas", "openmp"}
    assert set(seen["pools"].values()) == {threads}


def test_no_cap_leaves_the_pools_alone(restored_pools: None) -> None:
    with threadpool_limits(limits=2):
        before = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
        cap_job_threads(None)
        assert {p["filepath"]: p["num_threads"] for p in threadpool_info()} == before


def test_job_threads_setting_defaults_to_all_cores_but_one_and_refuses_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KTRDR_JOB_THREADS", raising=False)
    assert load_settings().job_threads == max(1, (os.cpu_count() or 1) - 1)
    monkeypatch.setenv("KTRDR_JOB_THREADS", "3")
    assert load_settings().job_threads == 3
    monkeypatch.setenv("KTRDR_JOB_THREADS", "0")
    with pytest.raises(ConfigurationError, match="KTRDR_JOB_THREADS='0'"):
        load_settings()
