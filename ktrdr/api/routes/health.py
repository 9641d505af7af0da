from __future__ import annotations

from fastapi import APIRouter

from ktrdr import __version__
from ktrdr.api.deps import RuntimeDep
from ktrdr.contract.operations import Envelope, HealthPublic
from ktrdr.records.models import OperationStatus

router = APIRouter(tags=["health"])


@router.get("/health")
def health(runtime: RuntimeDep) -> Envelope[HealthPublic]:
    """Answers from memory only, so it stays fast while the database is slow or full."""
    active = runtime.service.count_open(OperationStatus.RUNNING)
    problem = runtime.store_problem()
    settings = runtime.settings
    cluster = runtime.cluster_state()
    executor = f"{settings.executor} x{settings.workers}"
    if cluster is not None:
        executor = f"dask {cluster.scheduler}"
    return Envelope(
        data=HealthPublic(
            version=__version__,
            pid=runtime.pid,
            store=runtime.store_description,
            store_status="degraded" if problem else "ok",
            store_problem=problem,
            executor=executor,
            executor_name=settings.executor,
            scheduler=cluster.scheduler if cluster else None,
            cluster_status=cluster.status if cluster else None,
            cluster_problem=cluster.problem if cluster else None,
            workers=cluster.workers if cluster else settings.workers,
            free_slots=cluster.free_slots if cluster else None,
            started_at=runtime.started_at,
            active_operations=active,
            watchers=runtime.service.watcher_count(),
        )
    )
