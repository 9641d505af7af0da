from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from ktrdr.api.deps import JobsDep, RuntimeDep
from ktrdr.contract.operations import Envelope, OperationStarted
from ktrdr.contract.pictures import MAX_POINTS_LIMIT, TrainingHistoryPublic
from ktrdr.contract.requests import TrainingStartRequest
from ktrdr.jobs import pictures, training

router = APIRouter(prefix="/training", tags=["training"])


@router.post("/start", status_code=status.HTTP_202_ACCEPTED)
def start_training(request: TrainingStartRequest, jobs: JobsDep) -> Envelope[OperationStarted]:
    op = training.start_training(jobs, request)
    return Envelope(data=OperationStarted.of(op))


@router.get("/{operation_id}/history")
def training_history(
    operation_id: str,
    runtime: RuntimeDep,
    since: Annotated[int | None, Query(ge=0, description="Only epochs after this one")] = None,
    max_points: Annotated[
        int | None,
        Query(
            ge=pictures.HISTORY_MIN_POINTS,
            le=MAX_POINTS_LIMIT,
            description="At most this many epochs: the first, the last and each figure's "
            "extremes per stretch of epochs (default: every epoch)",
        ),
    ] = None,
) -> Envelope[TrainingHistoryPublic]:
    """A training's epochs: live while it runs, its whole history once it ended (kept
    across a restart for one that ended without a result)."""
    return Envelope(
        data=pictures.training_history(
            runtime.service, runtime.training_history, operation_id, since, max_points
        )
    )
