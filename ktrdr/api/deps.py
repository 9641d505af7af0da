"""Dependencies: the composition root puts these on ``app.state``; routes ask for them here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ktrdr.bootstrap import Runtime
from ktrdr.config import Settings
from ktrdr.jobs.cycles import ResearchCycles
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.operations.service import OperationsService


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_service(request: Request) -> OperationsService:
    return get_runtime(request).service


def get_settings_dep(request: Request) -> Settings:
    return get_runtime(request).settings


def get_jobs(request: Request) -> JobDependencies:
    return get_runtime(request).jobs


def get_cycles(request: Request) -> ResearchCycles:
    return get_runtime(request).cycles


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ServiceDep = Annotated[OperationsService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
JobsDep = Annotated[JobDependencies, Depends(get_jobs)]
CyclesDep = Annotated[ResearchCycles, Depends(get_cycles)]
