"""Dependencies: the composition root puts these on ``app.state``; routes ask for them here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ktrdr.bootstrap import Runtime
from ktrdr.config import Settings
from ktrdr.jobs.cycles import ResearchCycles
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.operations.service import OperationsService


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# Async, though they wait for nothing: FastAPI runs a plain ``def`` dependency in a worker
# thread, a hop that cost more than the rest of a cached read.
async def get_runtime(request: Request) -> Runtime:
    return _runtime(request)


async def get_service(request: Request) -> OperationsService:
    return _runtime(request).service


async def get_settings_dep(request: Request) -> Settings:
    return _runtime(request).settings


async def get_jobs(request: Request) -> JobDependencies:
    return _runtime(request).jobs


async def get_cycles(request: Request) -> ResearchCycles:
    return _runtime(request).cycles


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ServiceDep = Annotated[OperationsService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
JobsDep = Annotated[JobDependencies, Depends(get_jobs)]
CyclesDep = Annotated[ResearchCycles, Depends(get_cycles)]
