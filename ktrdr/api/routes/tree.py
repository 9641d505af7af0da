"""An operation tree in one request, and changes pushed by long-polling.

``GET /operations/{id}/tree`` answers the operation with every descendant and an ETag made
of the tree's version; ``If-None-Match`` with that ETag gets 304. With ``since=V&wait=S``
the request is held until the tree's version passes V (then 200 with the changes since V)
or for S seconds (then 304). The wait is a watcher on the service's change feed, woken by
the change itself: no polling, and no thread is held while waiting.

A status, phase, cancel request or new child is answered at once. A change of percentage
only is held back ``TreeHub.progress_delay`` (0.1 to 0.15 s; longer when many read one tree;
a later status change still goes at once), so one watcher gets at most 10 progress answers a
second.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from ktrdr.api.deps import ServiceDep
from ktrdr.api.tree_hub import TreeHub, Waiter, tree_hub
from ktrdr.contract.operations import ChangePublic, Envelope, OperationPublic, TreePublic
from ktrdr.jobs.cycle_eta import CycleEtas
from ktrdr.operations.changes import OperationTree
from ktrdr.operations.service import OperationsService
from ktrdr.operations.summary import summarize
from ktrdr.records.models import utcnow

router = APIRouter(prefix="/operations", tags=["operations"])

MAX_WAIT_SECONDS = 60.0


def etag_of(operation_id: str, version: int) -> str:
    return f'W/"{operation_id}:{version}"'


def _public(tree: OperationTree, etas: CycleEtas | None = None) -> TreePublic:
    now = utcnow()
    nodes = tree.nodes
    operations = [
        OperationPublic.from_domain(
            op,
            [summarize(c) for c in nodes if c.parent_operation_id == op.operation_id],
            now=now,
        ).with_eta(etas.estimate(op, nodes) if etas is not None else None)
        for op in nodes
    ]
    return TreePublic(
        version=tree.version,
        complete=tree.complete,
        changes=[ChangePublic(**vars(c)) for c in tree.changes],
        operations=operations,
    )


def _rendered(
    service: OperationsService, operation_id: str, since: int, etas: CycleEtas | None = None
) -> tuple[int, bytes]:
    tree = service.tree(operation_id, since)
    return tree.version, Envelope(data=_public(tree, etas)).model_dump_json().encode()


def _answer(
    hub: TreeHub,
    service: OperationsService,
    operation_id: str,
    since: int,
    seen: int | None,
    etas: CycleEtas | None = None,
) -> Response:
    """The tree with its changes after ``since``; shared by every reader of the same
    version (``seen``: the version the caller saw; None: render afresh). A running
    cycle's ETA is as of the render: readers of a shared answer count down from it."""
    if seen is None:
        version, body = _rendered(service, operation_id, since, etas)
    else:
        version, body = hub.shared_answer(
            (operation_id, since, seen), lambda: _rendered(service, operation_id, since, etas)
        )
    return Response(
        body,
        media_type="application/json",
        headers={"ETag": etag_of(operation_id, version), "Cache-Control": "no-cache"},
    )


def _not_modified(operation_id: str, version: int) -> Response:
    return Response(status_code=304, headers={"ETag": etag_of(operation_id, version)})


def _etas(request: Request) -> CycleEtas | None:
    """The backend's cycle ETAs (None for an app built without them)."""
    runtime = getattr(request.app.state, "runtime", None)
    return getattr(runtime, "cycle_etas", None)


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away (a held request must not outlive its reader)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


@router.get(
    "/{operation_id}/tree",
    response_model=Envelope[TreePublic],
    responses={304: {"description": "Nothing changed (If-None-Match, or the wait ran out)"}},
)
async def get_tree(
    operation_id: str,
    request: Request,
    service: ServiceDep,
    since: Annotated[int, Query(ge=0, description="the tree version you last saw")] = 0,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT_SECONDS, description="hold up to this many seconds")
    ] = 0.0,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    hub = tree_hub(request.app.state, service)
    with hub.waiting(operation_id, since) as waiter:
        version, significant = service.tree_status(operation_id, since)
        if wait <= 0 or significant or version is None:
            if version is not None and if_none_match == etag_of(operation_id, version):
                return _not_modified(operation_id, version)
            return _answer(hub, service, operation_id, since, version, _etas(request))
        # Nothing new, or progress only: hold it (progress at most every coalescing period).
        return await _held(hub, waiter, operation_id, request, service, wait, version != since)


async def _held(
    hub: TreeHub,
    waiter: Waiter,
    operation_id: str,
    request: Request,
    service: OperationsService,
    wait: float,
    progressed: bool,
) -> Response:
    loop = asyncio.get_running_loop()
    since = waiter.since
    deadline = loop.time() + wait
    # Set once progress is seen: answer then, unless something significant comes first.
    delay = hub.progress_delay(operation_id)
    answer_by = min(deadline, loop.time() + delay) if progressed else None
    waiter.holding_progress = progressed
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        while True:
            until = deadline if answer_by is None else min(deadline, answer_by)
            remaining = until - loop.time()
            if remaining > 0 and not waiter.woke.is_set():
                woken = asyncio.ensure_future(waiter.woke.wait())
                done, _ = await asyncio.wait(
                    {woken, gone}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                woken.cancel()
                if gone in done:
                    return Response(status_code=204)  # nobody is listening any more
            waiter.woke.clear()
            version, significant = service.tree_status(operation_id, since)
            now = loop.time()
            if version is None or significant:
                return _answer(hub, service, operation_id, since, version, _etas(request))
            if version != since:
                if answer_by is None:
                    answer_by = min(deadline, now + hub.progress_delay(operation_id))
                    waiter.holding_progress = True
                if now >= answer_by:
                    return _answer(hub, service, operation_id, since, version, _etas(request))
            elif now >= deadline:
                return _not_modified(operation_id, version)
    finally:
        gone.cancel()
