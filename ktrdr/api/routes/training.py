from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from ktrdr.api.deps import JobsDep, RuntimeDep
from ktrdr.api.schemas import TrainingStartRequest
from ktrdr.contract.operations import Envelope, OperationStarted
from ktrdr.contract.pictures import TrainingHistoryPublic
from ktrdr.jobs import pictures, training
from ktrdr.jobs.training import TrainingRequest

router = APIRouter(prefix="/training", tags=["training"])


@router.post("/start", status_code=status.HTTP_202_ACCEPTED)
def start_training(request: TrainingStartRequest, jobs: JobsDep) -> Envelope[OperationStarted]:
    op = training.start_training(
        jobs,
        TrainingRequest(
            strategy=request.strategy,
            strategy_config=request.strategy_config,
            symbol=request.symbol,
            timeframe=request.timeframe,
            epochs=request.epochs,
            train_start=request.train_start,
            train_end=request.train_end,
        ),
    )
    return Envelope(data=OperationStarted.of(op))


@router.get("/{operation_id}/history")
def training_history(
    operation_id: str,
    runtime: RuntimeDep,
    since: Annotated[int | None, Query(ge=0, description="Only epochs after this one")] = None,
) -> Envelope[TrainingHistoryPublic]:
    """A training's epochs: live while it runs, its whole history once it ended."""
    return Envelope(
        data=pictures.training_history(
            runtime.service, runtime.training_history, operation_id, since
        )
    )
