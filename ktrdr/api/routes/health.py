from __future__ import annotations

from fastapi import APIRouter

from ktrdr import __version__
from ktrdr.api.deps import RuntimeDep
from ktrdr.contract.operations import Envelope, HealthPublic
from ktrdr.operations.models import OperationStatus

router = APIRouter(tags=["health"])


@router.get("/health")
def health(runtime: RuntimeDep) -> Envelope[HealthPublic]:
    """Answers from memory only, so it stays fast while the database is slow or full."""
    active = runtime.service.count_open(OperationStatus.RUNNING)
    problem = runtime.store_problem()
    return Envelope(
        data=HealthPublic(
            version=__version__,
            pid=runtime.pid,
            store=runtime.store_description,
            store_status="degraded" if problem else "ok",
            store_problem=problem,
            executor=f"{runtime.settings.executor} x{runtime.settings.workers}",
            started_at=runtime.started_at,
            active_operations=active,
            watchers=runtime.service.watcher_count(),
        )
    )
