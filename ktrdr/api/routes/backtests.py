from __future__ import annotations

from fastapi import APIRouter, status

from ktrdr.api.deps import RuntimeDep
from ktrdr.api.schemas import BacktestStartRequest, Envelope, OperationStarted
from ktrdr.backtesting.job import (
    BacktestRequest,
    create_backtest,
    resolve_backtest,
    submit_backtest,
)
from ktrdr.errors import InvalidRequestError, NotFoundError

router = APIRouter(prefix="/backtests", tags=["backtests"])


@router.post("/start", status_code=status.HTTP_202_ACCEPTED)
def start_backtest(
    request: BacktestStartRequest, runtime: RuntimeDep
) -> Envelope[OperationStarted]:
    settings = runtime.settings
    try:
        resolved = resolve_backtest(
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
            runtime.market,
            settings.models_dir,
        )
    except NotFoundError as exc:
        raise InvalidRequestError(exc.message, details={"field": "symbol"}) from None
    op_id = create_backtest(runtime.service, resolved)
    submit_backtest(runtime.executor, op_id, resolved, runtime.market, settings.backtests_dir)
    op = runtime.service.get(op_id)
    return Envelope(
        data=OperationStarted(
            operation_id=op_id, operation_type=op.operation_type, status=op.status
        )
    )
