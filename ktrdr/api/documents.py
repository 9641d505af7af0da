"""An ended operation's answer, rendered once.

An operation that has ended never changes again, and neither do its children once they
have ended too. Its answer to ``GET /operations/{id}`` (built from typed records, then
serialised) is the same bytes on every read, so the backend keeps the newest few hundred of
them and serves a repeated read from memory, on the event loop, without a worker-thread hop
(issue 21: reading a finished research cycle cost 2.5x a bare endpoint answering the same
document; ``benchmarks/read_throughput.py`` measures it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from starlette.datastructures import State

from ktrdr.contract.operations import Envelope, EtaFigures, OperationPublic
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import Operation, utcnow

# A single read lists this many of the newest children (a cycle has a few dozen at most).
CHILDREN_SHOWN = 20
# Ended answers kept (a walk-forward cycle's is about 12 kB: a few MB at most).
KEPT = 512


class EndedDocuments:
    """A bounded LRU of rendered answers of ended operations, read from the event loop and
    written from worker threads."""

    def __init__(self, capacity: int = KEPT) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._bodies: OrderedDict[str, bytes] = OrderedDict()

    def get(self, operation_id: str) -> bytes | None:
        with self._lock:
            body = self._bodies.get(operation_id)
            if body is not None:
                self._bodies.move_to_end(operation_id)
            return body

    def put(self, operation_id: str, body: bytes) -> None:
        with self._lock:
            self._bodies[operation_id] = body
            self._bodies.move_to_end(operation_id)
            while len(self._bodies) > self._capacity:
                self._bodies.popitem(last=False)

    def __len__(self) -> int:
        return len(self._bodies)


def ended_documents(state: State) -> EndedDocuments:
    """The app's cache (made on first use, so every app factory gets one)."""
    documents: EndedDocuments | None = getattr(state, "ended_documents", None)
    if documents is None:
        documents = EndedDocuments()
        state.ended_documents = documents
    return documents


def render_operation(
    service: OperationsService,
    operation_id: str,
    eta: Callable[[Operation], EtaFigures | None] | None = None,
) -> tuple[bytes, bool]:
    """The operation's answer as JSON bytes, and whether it can never change again (it and
    every child shown have ended). ``eta``: open work's ETA, where it has one (ended work
    has none, so the cached answers never hold one). Non-finite figures go out as null."""
    op = service.peek(operation_id)  # read only: no copy of a large result
    children = service.children(operation_id, limit=CHILDREN_SHOWN)
    public = OperationPublic.from_domain(op, children, now=utcnow())
    if eta is not None and not op.is_terminal:
        public = public.with_eta(eta(op))
    ended = op.is_terminal and all(child.status.is_terminal for child in children)
    return Envelope(data=public).model_dump_json().encode(), ended
