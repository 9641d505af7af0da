from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from ktrdr.api.deps import JobsDep, RuntimeDep
from ktrdr.contract.operations import Envelope, OperationStarted
from ktrdr.contract.pictures import MAX_POINTS_DEFAULT, MAX_POINTS_LIMIT, BacktestSeriesPublic
from ktrdr.contract.requests import BacktestStartRequest
from ktrdr.jobs import backtests, pictures

router = APIRouter(prefix="/backtests", tags=["backtests"])


@router.post("/start", status_code=status.HTTP_202_ACCEPTED)
def start_backtest(request: BacktestStartRequest, jobs: JobsDep) -> Envelope[OperationStarted]:
    op = backtests.start_backtest(jobs, request)
    return Envelope(data=OperationStarted.of(op))


@router.get("/{operation_id}/series")
def backtest_series(
    operation_id: str,
    runtime: RuntimeDep,
    max_points: Annotated[int, Query(ge=2, le=MAX_POINTS_LIMIT)] = MAX_POINTS_DEFAULT,
) -> Envelope[BacktestSeriesPublic]:
    """A completed backtest's equity, buy-and-hold and drawdown on the same timestamps
    (exact up to ``max_points`` bars, else each bucket's extremes), with its trades."""
    return Envelope(
        data=pictures.backtest_series(
            runtime.service, runtime.backtest_details, operation_id, max_points
        )
    )
