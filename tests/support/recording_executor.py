"""An Executor for jobs-layer unit tests: it keeps what it was given and runs nothing.

A test can then look at the submitted job (its type and inputs) or run it itself.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from ktrdr.operations.execution import Job, JobHandle
from ktrdr.operations.service import OperationsService


@dataclass
class RecordingExecutor:
    service: OperationsService
    jobs: list[tuple[str, Job]] = field(default_factory=list)
    orchestrations: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def ensure_available(self) -> None:
        return None

    def submit(self, operation_id: str, job: Job) -> JobHandle:
        self.jobs.append((operation_id, job))
        return self._handle(operation_id)

    def submit_orchestration(self, operation_id: str, work: Callable[[], None]) -> JobHandle:
        self.orchestrations.append((operation_id, work))
        return self._handle(operation_id)

    def shutdown(self) -> None:
        pass

    def _handle(self, operation_id: str) -> JobHandle:
        future: Future[None] = Future()
        future.set_result(None)
        return JobHandle(operation_id, future, self.service)
