from __future__ import annotations

from fastapi import APIRouter, Request

from ktrdr import __version__
from ktrdr.api.auth import token_verified
from ktrdr.api.deps import RuntimeDep
from ktrdr.api.tree_hub import held_reads
from ktrdr.contract.operations import Envelope, HealthPublic
from ktrdr.operations.threads import THREADS
from ktrdr.records.models import OperationStatus

router = APIRouter(tags=["health"])


@router.get("/health")
def health(runtime: RuntimeDep, request: Request) -> Envelope[HealthPublic]:
    """Open to all; the details only to a caller with the token when one is set (without
    one the backend listens on loopback only, and answers in full)."""
    answer = full_health(runtime, held_reads(request.app.state))
    verified = token_verified(request.scope)
    # Either side saying a token is set, without the guard vouching for it, means liveness.
    if verified is False or (verified is None and runtime.settings.token is not None):
        return Envelope(data=answer.data.liveness())
    return answer


def full_health(runtime: RuntimeDep, watchers: int = 0) -> Envelope[HealthPublic]:
    """Answers from memory only, so it stays fast while the database is slow or full.
    ``watchers``: the held tree reads (long-polls) now."""
    active = runtime.service.count_open(OperationStatus.RUNNING)
    problem = runtime.store_problem()
    settings = runtime.settings
    cluster = runtime.cluster_state()
    executor = f"{settings.executor} x{settings.workers}"
    if cluster is not None:
        executor = f"dask {cluster.scheduler}"
    threads_problem = THREADS.problem()  # a dead thread of this backend process
    return Envelope(
        data=HealthPublic(
            status="degraded" if threads_problem else "ok",
            threads_problem=threads_problem,
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
            watchers=watchers,
        )
    )
