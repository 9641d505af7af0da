"""The composition root: builds the store, service, executor, jobs and cycles from Settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ktrdr.config import Settings
from ktrdr.data.market import MarketData
from ktrdr.errors import ConfigurationError, ConflictError
from ktrdr.jobs.cycles import ResearchCycles
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.jobs.pictures import DetailFiles
from ktrdr.operations.execution import Executor, LocalExecutor
from ktrdr.operations.models import utcnow
from ktrdr.operations.service import OperationsService
from ktrdr.operations.sqlite_store import SqliteOperationStore
from ktrdr.operations.store import InMemoryOperationStore, OperationStore
from ktrdr.operations.training_history import TrainingHistory
from ktrdr.operations.write_behind import WriteBehindStore

if TYPE_CHECKING:
    from ktrdr.cluster.connection import ClusterState


@dataclass
class Runtime:
    settings: Settings
    service: OperationsService
    executor: Executor
    market: MarketData
    jobs: JobDependencies
    cycles: ResearchCycles
    store_description: str
    write_behind: WriteBehindStore | None = None
    # The epochs of running trainings, fed by the service (see build); the detail files
    # read for backtest series.
    training_history: TrainingHistory = field(default_factory=TrainingHistory)
    backtest_details: DetailFiles = field(default_factory=DetailFiles)
    started_at: datetime = field(default_factory=utcnow)
    pid: int = field(default_factory=os.getpid)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        store: OperationStore
        write_behind: WriteBehindStore | None = None
        if settings.ephemeral:
            store, description = InMemoryOperationStore(), "memory"
        else:
            store = write_behind = WriteBehindStore(
                SqliteOperationStore(settings.database_path),
                flush_interval=settings.progress_flush_seconds,
            )
            description = f"sqlite:{settings.database_path}"
        service = OperationsService(store, cancel_grace_seconds=settings.cancel_grace_seconds)
        training_history = TrainingHistory()
        service.add_listener(training_history.observe)
        executor: Executor
        if settings.executor == "process":
            from ktrdr.operations.process_executor import ProcessExecutor

            executor = ProcessExecutor(
                service,
                max_workers=settings.workers,
                log_format=settings.log_format,
                job_threads=settings.job_threads,
                orchestrations=settings.max_active_cycles,
            )
        elif settings.executor == "dask":
            executor = _dask_executor(service, settings)
        else:
            executor = LocalExecutor(
                service,
                max_workers=settings.workers,
                job_threads=settings.job_threads,
                orchestrations=settings.max_active_cycles,
            )
        market = MarketData(settings.data_dir)
        jobs = JobDependencies(
            service=service,
            executor=executor,
            market=market,
            models_dir=settings.models_dir,
            backtests_dir=settings.backtests_dir,
            strategies_dir=settings.data_dir / "strategies",
        )
        return cls(
            settings=settings,
            service=service,
            executor=executor,
            market=market,
            jobs=jobs,
            cycles=ResearchCycles(jobs, settings),
            store_description=description,
            write_behind=write_behind,
            training_history=training_history,
        )

    def cluster_state(self) -> ClusterState | None:
        """The Dask cluster as last seen, or None for the thread and process executors."""
        if self.settings.executor != "dask":
            return None
        from ktrdr.cluster.executor import DaskExecutor

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


def _dask_executor(service: OperationsService, settings: Settings) -> Executor:
    try:
        from ktrdr.cluster.executor import build_dask_executor
    except ImportError as exc:
        raise ConfigurationError(
            f"KTRDR_EXECUTOR=dask needs Dask: pip install 'ktrdr[dask]' ({exc})",
            code="dask_not_installed",
        ) from None
    return build_dask_executor(service, settings)
