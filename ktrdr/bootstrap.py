"""The composition root: the one place that turns Settings into the running object graph.

The API serves a ``Runtime`` built here; the benchmarks and the tests build theirs here
too, so all of them run the same store, service, listeners, executor and jobs. Only this
module reads Settings for the graph: everything it builds takes plain values, and what
the lower layers must not name themselves (the modules a job process preloads) is passed
in from here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ktrdr.config import Settings
from ktrdr.data.market import MarketData
from ktrdr.errors import ConfigurationError, ConflictError
from ktrdr.executors.thread import LocalExecutor
from ktrdr.jobs.cycles import ResearchCycles
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.jobs.pictures import DetailFiles
from ktrdr.operations.execution import Executor
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore, OperationStore
from ktrdr.operations.training_history import TrainingHistory
from ktrdr.records.models import utcnow
from ktrdr.storage.sqlite_store import SqliteOperationStore
from ktrdr.storage.write_behind import WriteBehindStore

if TYPE_CHECKING:
    from ktrdr.executors.dask.connection import ClusterState

# What the process executor's fork server imports once, so each job process starts warm.
# Named here: the executor sits below the jobs layer and must not name it itself.
PROCESS_PRELOAD = ("ktrdr.jobs.process_preload",)


@dataclass
class OperationsStack:
    """The store, the service over it and the service's listeners: all a caller needs
    that records operations without running jobs (a benchmark, an offline tool)."""

    service: OperationsService
    # The epochs of running trainings, fed by the service as their reports arrive.
    training_history: TrainingHistory
    store_description: str  # "memory" or "sqlite:PATH", for the startup log line
    write_behind: WriteBehindStore | None = None  # None for an ephemeral (memory) store

    def close(self) -> None:
        self.service.close()


def build_operations(settings: Settings, store: OperationStore | None = None) -> OperationsStack:
    """The operations stack as the backend runs it: in memory when ``ephemeral``, else
    SQLite behind a write-behind cache (progress reaches the file coalesced).

    ``store``: one the caller built instead (a benchmark that measures a store); the
    service and its listeners over it are still the backend's."""
    if store is not None:
        description = type(store).__name__
    elif settings.ephemeral:
        store, description = InMemoryOperationStore(), "memory"
    else:
        store = WriteBehindStore(
            SqliteOperationStore(settings.database_path),
            flush_interval=settings.progress_flush_seconds,
        )
        description = f"sqlite:{settings.database_path}"
    service = OperationsService(store, cancel_grace_seconds=settings.cancel_grace_seconds)
    training_history = TrainingHistory()
    service.add_listener(training_history.observe)
    write_behind = store if isinstance(store, WriteBehindStore) else None
    return OperationsStack(service, training_history, description, write_behind)


def build_executor(service: OperationsService, settings: Settings) -> Executor:
    """The executor ``settings.executor`` names, given plain values only."""
    if settings.executor == "process":
        from ktrdr.executors.process import ProcessExecutor

        return ProcessExecutor(
            service,
            max_workers=settings.workers,
            log_format=settings.log_format,
            job_threads=settings.job_threads,
            orchestrations=settings.max_active_cycles,
            preload=PROCESS_PRELOAD,
        )
    if settings.executor == "dask":
        return _dask_executor(service, settings)
    return LocalExecutor(
        service,
        max_workers=settings.workers,
        job_threads=settings.job_threads,
        orchestrations=settings.max_active_cycles,
    )


def _dask_executor(service: OperationsService, settings: Settings) -> Executor:
    """``KTRDR_EXECUTOR=dask`` (``local`` starts ``KTRDR_WORKERS`` workers)."""
    try:
        from ktrdr.executors.dask.connection import ClusterConnection, tls_security
        from ktrdr.executors.dask.executor import DaskExecutor
    except ImportError as exc:
        raise ConfigurationError(
            f"KTRDR_EXECUTOR=dask needs Dask: pip install 'ktrdr[dask]' ({exc})",
            code="dask_not_installed",
        ) from None
    connection = ClusterConnection(
        settings.dask_scheduler,
        default_local_workers=settings.workers,
        security=tls_security(
            settings.dask_tls_ca_file, settings.dask_tls_cert, settings.dask_tls_key
        ),
    )
    return DaskExecutor(service, connection, orchestrations=settings.max_active_cycles)


@dataclass
class Runtime:
    """Everything a running backend holds, built once by ``build_runtime``."""

    settings: Settings
    service: OperationsService
    executor: Executor
    market: MarketData
    jobs: JobDependencies
    cycles: ResearchCycles
    store_description: str
    write_behind: WriteBehindStore | None = None
    # The epochs of running trainings, fed by the service (see build_operations); the
    # detail files read for backtest series.
    training_history: TrainingHistory = field(default_factory=TrainingHistory)
    backtest_details: DetailFiles = field(default_factory=DetailFiles)
    started_at: datetime = field(default_factory=utcnow)
    pid: int = field(default_factory=os.getpid)

    def cluster_state(self) -> ClusterState | None:
        """The Dask cluster as last seen, or None for the thread and process executors."""
        if self.settings.executor != "dask":
            return None
        from ktrdr.executors.dask.executor import DaskExecutor

        return self.executor.cluster if isinstance(self.executor, DaskExecutor) else None

    def store_problem(self) -> str | None:
        """Why writes to the operations database fail right now, or None when they don't."""
        return self.write_behind.degraded if self.write_behind is not None else None

    def close(self) -> None:
        for op in self.service.open_operations():
            try:
                self.service.fail(op.operation_id, "Backend shut down while the operation ran")
            except ConflictError:
                pass  # it ended meanwhile
        self.executor.shutdown()
        self.service.close()


def build_runtime(settings: Settings) -> Runtime:
    """The whole graph: the operations stack, the executor, market data, jobs and cycles."""
    operations = build_operations(settings)
    service = operations.service
    executor = build_executor(service, settings)
    market = MarketData(settings.data_dir)
    jobs = JobDependencies(
        service=service,
        executor=executor,
        market=market,
        models_dir=settings.models_dir,
        backtests_dir=settings.backtests_dir,
        strategies_dir=settings.data_dir / "strategies",
    )
    return Runtime(
        settings=settings,
        service=service,
        executor=executor,
        market=market,
        jobs=jobs,
        cycles=ResearchCycles(jobs, settings),
        store_description=operations.store_description,
        write_behind=operations.write_behind,
        training_history=operations.training_history,
    )
