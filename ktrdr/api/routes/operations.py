from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ktrdr.api.deps import RuntimeDep, ServiceDep
from ktrdr.api.documents import CHILDREN_SHOWN, ended_documents, render_operation
from ktrdr.contract.cancelling import NOT_DURABLE_WARNING, CancelPublic
from ktrdr.contract.operations import (
    Envelope,
    OperationPublic,
    OperationSummaryPublic,
    PageEnvelope,
)
from ktrdr.records.models import OperationStatus, OperationType, utcnow

router = APIRouter(prefix="/operations", tags=["operations"])

# Far beyond any history, far below what SQLite can bind (64-bit): a larger offset is a
# mistake, answered 422 like any bad parameter instead of failing in the store.
MAX_OFFSET = 1_000_000_000
MAX_LIMIT = 1000


@router.get("", response_model=PageEnvelope[OperationSummaryPublic])
def list_operations(
    service: ServiceDep,
    status: OperationStatus | None = None,
    operation_type: OperationType | None = None,
    parent_operation_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """Newest first, as summaries (id, kind, status, progress, phase, times, parent,
    verdict and a few result numbers); GET one operation for everything."""
    rows, total = service.list_operations(
        status=status,
        operation_type=operation_type,
        parent_operation_id=parent_operation_id,
        limit=limit,
        offset=offset,
    )
    now = utcnow()
    page: PageEnvelope[OperationSummaryPublic] = PageEnvelope(
        data=[OperationSummaryPublic.from_domain(row, now) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )
    # Built and typed here already: serialise once instead of letting the framework
    # validate the whole page again (a third of a listing's time at 100 rows).
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/{operation_id}", response_model=Envelope[OperationPublic])
async def get_operation(operation_id: str, request: Request, runtime: RuntimeDep) -> Response:
    """An ended operation's answer comes from memory once rendered (it never changes);
    anything else is built in a worker thread, since a long-ended one is read from disk."""
    documents = ended_documents(request.app.state)
    cached = documents.get(operation_id)
    if cached is not None:
        return Response(cached, media_type="application/json")
    etas = runtime.cycle_etas
    estimate = etas.estimate if etas is not None else None
    body, ended = await run_in_threadpool(render_operation, runtime.service, operation_id, estimate)
    if ended:
        documents.put(operation_id, body)
    return Response(body, media_type="application/json")


@router.delete("/{operation_id}")
def cancel_operation(operation_id: str, runtime: RuntimeDep) -> Envelope[CancelPublic]:
    """Ask the operation and its open children to stop. ``durable`` False: the cancel is
    only in memory (the database cannot be written), and a kill now would lose it."""
    service = runtime.service
    op = service.cancel(operation_id, "Cancelled by request")
    children = service.children(operation_id, limit=CHILDREN_SHOWN)
    answer = OperationPublic.from_domain(op, children).model_dump()
    if not runtime.unwritten([operation_id, *(c.operation_id for c in children)]):
        return Envelope(data=CancelPublic(**answer))
    warning = NOT_DURABLE_WARNING.format(cause=runtime.store_problem() or "writes fail")
    return Envelope(data=CancelPublic(**answer, durable=False, warning=warning))
