from __future__ import annotations

from fastapi import APIRouter, status

from ktrdr.api.deps import JobsDep
from ktrdr.api.schemas import TrainingStartRequest
from ktrdr.contract.operations import Envelope, OperationStarted
from ktrdr.jobs import training
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
