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
from ktrdr.errors import ConfigurationError
from ktrdr.executors.thread import LocalExecutor
from ktrdr.jobs.cycle_eta import CycleEtas
from ktrdr.jobs.cycles import ResearchCycles
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.jobs.pictures import DetailFiles
from ktrdr.logging import get_logger
from ktrdr.operations.execution import Executor
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore, OperationStore
from ktrdr.operations.training_history import TrainingHistory
from ktrdr.records.models import utcnow
from ktrdr.storage.curves import CurveFiles
from ktrdr.storage.file_identity import FileIdentity
from ktrdr.storage.sqlite_store import SqliteOperationStore
from ktrdr.storage.write_behind import WriteBehindStore

if TYPE_CHECKING:
    from ktrdr.executors.dask.connection import ClusterState
    from ktrdr.notify.notifier import Notifier

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
    notifier: Notifier | None = None  # webhooks, when KTRDR_WEBHOOK_URL names receivers

    def close(self) -> None:
        self.service.close()
        self.training_history.close()  # after the service: its last ends are written too
        if self.notifier is not None:
            self.notifier.close()  # after the service too: its last ends are stored


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
        sqlite = SqliteOperationStore(settings.database_path)
        store = WriteBehindStore(
            sqlite,
            flush_interval=settings.progress_flush_seconds,
            # Taken as soon as SQLite holds the file: a later swap must not look like it.
            file_check=FileIdentity.of(settings.database_path).problem,
        )
        description = f"sqlite:{settings.database_path}"
    service = OperationsService(store, cancel_grace_seconds=settings.cancel_grace_seconds)
    # Learning curves persist beside the data (not in memory-only backends), flushed as
    # often as progress reaches the database.
    training_history = TrainingHistory(
        None if settings.ephemeral else CurveFiles(settings.data_dir / "curves"),
        flush_interval=settings.progress_flush_seconds,
    )
    service.add_listener(training_history.observe)
    write_behind = store if isinstance(store, WriteBehindStore) else None
    try:
        notifier = build_notifier(settings, service)
    except BaseException:  # e.g. an unusable deliveries file: let the next start have both
        service.close()
        training_history.close()
        raise
    return OperationsStack(service, training_history, description, write_behind, notifier)


def build_notifier(settings: Settings, service: OperationsService) -> Notifier | None:
    """Webhooks when ``webhook_url`` names receivers: a listener of ``service`` whose
    deliveries persist beside the operations database (in memory when ephemeral). Roots a
    restart ended (``service.recovered``) are announced too: no listener saw them end."""
    key = settings.webhook_key
    if not settings.webhook_urls or key is None:
        return None
    from ktrdr.notify.deliveries import DeliveryStore, InMemoryDeliveryStore
    from ktrdr.notify.http_sender import HttpxSender
    from ktrdr.notify.notifier import LEASE_MARGIN_SECONDS, Notifier
    from ktrdr.notify.retry import DEFAULT_MAX_DELAY, RetryPolicy
    from ktrdr.storage.deliveries import SqliteDeliveryStore, deliveries_path

    store: DeliveryStore = (
        InMemoryDeliveryStore()
        if settings.ephemeral
        else SqliteDeliveryStore(deliveries_path(settings.database_path))
    )
    first = settings.webhook_retry_first_seconds
    notifier = Notifier(
        store,
        HttpxSender(settings.webhook_timeout_seconds),
        endpoints=settings.webhook_urls,
        key=key,
        page_base_url=settings.base_url,
        policy=RetryPolicy(
            first_delay=first,
            max_delay=max(first, DEFAULT_MAX_DELAY),
            give_up_after=settings.webhook_retry_for_seconds,
        ),
        lease_seconds=settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS,
    )
    service.add_listener(notifier.observe)
    notifier.announce(service.get(operation_id) for operation_id in service.recovered)
    notifier.start()
    return notifier


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
        dashboard=settings.dask_dashboard,
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
    notifier: Notifier | None = None  # webhooks (see build_notifier)
    # Running research cycles' ETAs, from this backend's completed ones (see build_cycle_etas).
    cycle_etas: CycleEtas | None = None
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

    # ---- shutting down (SIGTERM, `ktrdr server stop`, the end of a test's app)
    def begin_shutdown(self) -> None:
        """Refuse new work from now on (503 ``shutting_down``); running work goes on until
        ``close``. Only sets a flag: safe from a signal handler."""
        self.service.stop_accepting()

    @property
    def shutting_down(self) -> bool:
        return self.service.shutting_down

    def unwritten(self, operation_ids: list[str]) -> list[str]:
        """Those of ``operation_ids`` whose newest change a kill would lose: writing it
        failed (a full disk) and is still being retried. Memory-only backends keep nothing,
        so nothing of theirs waits to be written."""
        return self.write_behind.unwritten(operation_ids) if self.write_behind else []

    def close(self) -> None:
        """End running work as interrupted by the shutdown (cancelled where a cancel was
        acknowledged), stop the workers, then write everything and close the store."""
        ended = self.service.shut_down()
        if ended:
            get_logger("ktrdr.api").warning(
                "operations interrupted by the shutdown", count=len(ended)
            )
        self.executor.shutdown()
        if self.cycle_etas is not None:
            self.cycle_etas.close()  # before the service: its history read stops first
        self.service.close()
        self.training_history.close()  # after the service: its last ends are written too
        if self.notifier is not None:
            self.notifier.close()  # after the service too: its last ends are stored


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
    cycle_etas = build_cycle_etas(settings, service, market)
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
        notifier=operations.notifier,
        cycle_etas=cycle_etas,
    )


def build_cycle_etas(
    settings: Settings, service: OperationsService, market: MarketData
) -> CycleEtas:
    """ETAs for running cycles: a listener of ``service`` noting the cycles that complete,
    whose stored history a background thread reads once."""

    def bars_of(symbol: str, timeframe: str) -> int | None:
        return market.series_info(symbol, timeframe).bars

    etas = CycleEtas(service, executor=settings.executor, workers=settings.workers, bars_of=bars_of)
    service.add_listener(etas.observe)
    etas.start()
    return etas
