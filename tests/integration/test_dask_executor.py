"""The Dask executor on a LocalCluster (2 worker processes, 1 thread each, loopback): real
trainings and a real backtest run on the cluster through the OperationsService, with
monotonic progress, a cancel that lands within a second, and an imported series that
trains there exactly as a bundled one (its bars travel with the job); and a scheduler
that cannot be reached fails the job quickly instead of leaving it pending."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

from ktrdr.bootstrap import Runtime, build_runtime  # noqa: E402
from ktrdr.config import Settings  # noqa: E402
from ktrdr.contract.requests import BacktestStartRequest, TrainingStartRequest  # noqa: E402
from ktrdr.data.csv_series import to_csv  # noqa: E402
from ktrdr.data.market import MarketData  # noqa: E402
from ktrdr.errors import ClusterUnavailableError  # noqa: E402
from ktrdr.executors.dask.connection import ClusterConnection  # noqa: E402
from ktrdr.executors.dask.executor import DaskExecutor  # noqa: E402
from ktrdr.jobs.backtests import start_backtest  # noqa: E402
from ktrdr.jobs.dependencies import JobDependencies  # noqa: E402
from ktrdr.jobs.pictures import DetailFiles, backtest_series, training_history  # noqa: E402
from ktrdr.jobs.training import build_strategy, start_training  # noqa: E402
from ktrdr.operations.service import OperationsService  # noqa: E402
from ktrdr.operations.store import InMemoryOperationStore  # noqa: E402
from ktrdr.records.models import Operation, OperationStatus, OperationType  # noqa: E402
from ktrdr.training.job import TrainingJob  # noqa: E402
from ktrdr.training.model_store import load_model  # noqa: E402
from tests.support.live_backend import free_port  # noqa: E402
from tests.support.waiting import wait_for, wait_until  # noqa: E402

JOB_TIMEOUT = 90.0  # the first job also waits for the LocalCluster to start


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A backend's object graph as ``KTRDR_EXECUTOR=dask`` builds it, on a LocalCluster."""
    root = tmp_path_factory.mktemp("dask-backend")
    settings = Settings(
        data_dir=root / "data",
        ephemeral=True,
        executor="dask",
        dask_scheduler="local:2",
        cancel_grace_seconds=5.0,
    )
    built = build_runtime(settings)
    assert isinstance(built.executor, DaskExecutor)
    yield built
    built.close()


@pytest.fixture(scope="module")
def deps(runtime: Runtime) -> JobDependencies:
    return runtime.jobs


def follow(service: OperationsService, operation_id: str) -> tuple[Operation, list[float]]:
    """The operation once terminal, and every percentage seen on the way (sampled fast)."""
    seen: list[float] = []
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        op = service.get(operation_id)
        if not seen or seen[-1] != op.progress.percentage:
            seen.append(op.progress.percentage)
        if op.is_terminal:
            return op, seen
        time.sleep(0.005)
    raise AssertionError(f"{operation_id} did not finish: {service.get(operation_id)}")


def test_a_training_then_a_backtest_run_on_the_cluster_with_monotonic_progress(
    deps: JobDependencies,
) -> None:
    training, seen = follow(
        deps.service,
        start_training(
            deps, TrainingStartRequest(strategy="rsi_mean_reversion", epochs=12)
        ).operation_id,
    )
    assert training.status is OperationStatus.COMPLETED, training.error_message
    assert seen == sorted(seen) and seen[-1] == 100.0
    assert len(seen) >= 3, f"progress never arrived from the worker: {seen}"
    summary = training.result_summary or {}
    assert summary["epochs_completed"] == 12
    # The model came back from the worker and lives under the backend's own models dir.
    model_path = Path(summary["model_path"])
    assert model_path.is_relative_to(deps.models_dir), model_path
    assert load_model(model_path, deps.models_dir).strategy.name == "rsi_mean_reversion"

    backtest, seen = follow(
        deps.service,
        start_backtest(deps, BacktestStartRequest(model=str(model_path))).operation_id,
    )
    assert backtest.status is OperationStatus.COMPLETED, backtest.error_message
    assert seen == sorted(seen) and seen[-1] == 100.0
    result = backtest.result_summary or {}
    detail = Path(result["detail_path"])
    assert detail == deps.backtests_dir / f"{backtest.operation_id}.json"
    assert detail.is_file() and '"trades"' in detail.read_text()
    assert result["model"] == str(model_path)
    assert backtest.progress.current_step and backtest.progress.current_step.startswith("Bar ")
    # The series behind the picture reads the detail file that came back from the worker.
    series = backtest_series(deps.service, DetailFiles(), backtest.operation_id, 2_000)
    assert series.bars == result["bars"] and series.equity[-1] == result["final_equity"]
    assert len(series.buy_and_hold) == len(series.equity) == series.points
    assert -min(series.drawdown) == pytest.approx(result["metrics"]["max_drawdown"])


def test_a_cluster_trainings_history_is_kept_as_its_reports_arrive(runtime: Runtime) -> None:
    deps, keeper = runtime.jobs, runtime.training_history  # the listener the backend wires
    op_id = start_training(
        deps, TrainingStartRequest(strategy="rsi_mean_reversion", epochs=150)
    ).operation_id
    live: list[list[int]] = []
    deadline = time.monotonic() + JOB_TIMEOUT
    while not deps.service.get(op_id).is_terminal:
        assert time.monotonic() < deadline, deps.service.get(op_id)
        so_far = keeper.epochs(op_id)
        if so_far is not None and so_far.epochs:
            live.append([e.epoch for e in so_far.epochs if e.epoch is not None])
        time.sleep(0.02)
    assert live, "no epoch reached the keeper while the training ran"
    for numbers in live:  # coalesced reports may skip epochs, never repeat or reorder them
        assert numbers == sorted(set(numbers))
    done = training_history(deps.service, keeper, op_id, None)
    assert done.status == "completed" and [e.epoch for e in done.epochs] == list(range(1, 151))


def test_cancel_mid_training_ends_it_cancelled_within_a_second(deps: JobDependencies) -> None:
    op_id = start_training(
        deps, TrainingStartRequest(strategy="rsi_mean_reversion", epochs=3000)
    ).operation_id
    wait_for(deps.service, op_id, lambda op: (op.progress.items_processed or 0) >= 2, JOB_TIMEOUT)
    asked = time.monotonic()
    deps.service.cancel(op_id, "Stopped by the test")
    while not deps.service.get(op_id).is_terminal:
        assert time.monotonic() - asked < 5, "the cancel never reached the worker"
        time.sleep(0.005)
    took = time.monotonic() - asked
    op = deps.service.get(op_id)
    assert op.status is OperationStatus.CANCELLED
    assert not (op.result_summary or {}).get("forced"), op.result_summary
    assert str((op.result_summary or {}).get("stopped_at", "")).startswith("Epoch ")
    assert took < 1.0, f"cancel took {took:.2f}s"


def test_finished_jobs_leave_no_cancel_event_on_the_scheduler(deps: JobDependencies) -> None:
    op_id = start_training(
        deps, TrainingStartRequest(strategy="rsi_mean_reversion", epochs=3)
    ).operation_id
    assert follow(deps.service, op_id)[0].status is OperationStatus.COMPLETED
    # A cancelled one too: setting its event is what creates it on the scheduler.
    stopped = start_training(deps, TrainingStartRequest(strategy="rsi_mean_reversion", epochs=3000))
    wait_for(
        deps.service,
        stopped.operation_id,
        lambda op: (op.progress.items_processed or 0) >= 1,
        JOB_TIMEOUT,
    )
    deps.service.cancel(stopped.operation_id, "Stopped by the test")
    assert follow(deps.service, stopped.operation_id)[0].status is OperationStatus.CANCELLED
    executor = deps.executor
    assert isinstance(executor, DaskExecutor)
    client = executor._connection.client()

    def event_names(dask_scheduler: Any) -> list[str]:
        return [str(name) for name in dask_scheduler.extensions["events"]._events]

    assert wait_until(lambda: not client.run_on_scheduler(event_names), 5, 0.05), (
        f"cancel events left behind: {client.run_on_scheduler(event_names)}"
    )


def test_an_imported_series_trains_on_the_cluster(deps: JobDependencies, tmp_path: Path) -> None:
    csv = tmp_path / "imported.csv"
    csv.write_text(to_csv(deps.market.load("SP500")), encoding="utf-8")
    deps.market.import_csv(csv, "MYSP", "1d")
    op, seen = follow(
        deps.service,
        start_training(
            deps, TrainingStartRequest(strategy="rsi_mean_reversion", symbol="mysp", epochs=5)
        ).operation_id,
    )
    assert op.status is OperationStatus.COMPLETED, op.error_message
    assert seen == sorted(seen)
    assert op.metadata.parameters["symbol"] == "MYSP"
    assert Path((op.result_summary or {})["model_path"]).is_relative_to(deps.models_dir)


def test_an_unreachable_scheduler_fails_the_job_fast_and_the_executor_says_so(
    tmp_path: Path,
) -> None:
    service = OperationsService(InMemoryOperationStore())
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    began = time.monotonic()
    executor = DaskExecutor(service, ClusterConnection(address))
    assert time.monotonic() - began < 1.0  # the backend does not wait for its cluster
    try:
        op = service.create(OperationType.TRAINING)
        began = time.monotonic()
        with pytest.raises(ClusterUnavailableError, match=address) as raised:
            executor.submit(
                op.operation_id,
                TrainingJob(
                    build_strategy(TrainingStartRequest(strategy="rsi_mean_reversion")),
                    MarketData(tmp_path),
                    tmp_path / "models",
                ),
            )
        assert time.monotonic() - began < 10.0  # bounded by the connect timeout
        assert raised.value.code == "cluster_unavailable"
        failed = service.get(op.operation_id)
        assert failed.status is OperationStatus.FAILED  # not left pending
        assert address in (failed.error_message or "")
        state = executor.cluster
        assert (state.status, state.scheduler, state.workers) == ("unavailable", address, 0)
        assert state.problem and address in state.problem
    finally:
        executor.shutdown()
        service.close()
