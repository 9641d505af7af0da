from __future__ import annotations

from fastapi import APIRouter, status

from ktrdr.api.deps import JobsDep
from ktrdr.api.schemas import BacktestStartRequest
from ktrdr.contract.operations import Envelope, OperationStarted
from ktrdr.jobs import backtests
from ktrdr.jobs.backtests import BacktestRequest

router = APIRouter(prefix="/backtests", tags=["backtests"])


@router.post("/start", status_code=status.HTTP_202_ACCEPTED)
def start_backtest(request: BacktestStartRequest, jobs: JobsDep) -> Envelope[OperationStarted]:
    op = backtests.start_backtest(
        jobs,
        BacktestRequest(
            model=request.model,
            symbol=request.symbol,
            timeframe=request.timeframe,
            start=request.start_date,
            end=request.end_date,
            mode=request.mode,
            commission=request.commission,
            slippage=request.slippage,
        ),
    )
    return Envelope(data=OperationStarted.of(op))
