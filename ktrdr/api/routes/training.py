from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import ValidationError

from ktrdr.api.deps import RuntimeDep
from ktrdr.api.schemas import Envelope, OperationStarted, TrainingStartRequest
from ktrdr.errors import InvalidRequestError, NotFoundError, StrategyValidationError
from ktrdr.strategies.loader import load_strategy
from ktrdr.strategies.models import StrategyConfig
from ktrdr.training.job import create_training, submit_training

router = APIRouter(prefix="/training", tags=["training"])


def build_strategy(request: TrainingStartRequest) -> StrategyConfig:
    if (request.strategy is None) == (request.strategy_config is None):
        raise InvalidRequestError(
            "Give exactly one of `strategy` (a name or path) or `strategy_config`",
            details={"field": "strategy"},
        )
    if request.strategy is not None:
        try:
            base: dict[str, Any] = load_strategy(request.strategy).model_dump()
        except NotFoundError as exc:
            raise InvalidRequestError(exc.message, details={"field": "strategy"}) from None
    else:
        base = dict(request.strategy_config or {})
    data = dict(base.get("data") or {})
    for field, value in (
        ("symbol", request.symbol.upper() if request.symbol else None),
        ("timeframe", request.timeframe),
        ("train_start", request.train_start),
        ("train_end", request.train_end),
    ):
        if value is not None:
            data[field] = value
    base["data"] = data
    if request.epochs is not None:
        base["model"] = {**dict(base.get("model") or {}), "epochs": request.epochs}
    try:
        return StrategyConfig.model_validate(base)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise StrategyValidationError(
            f"Invalid strategy: {where}: {first.get('msg')}",
            details={"field": f"strategy.{where}", "errors": len(exc.errors())},
        ) from None


@router.post("/start", status_code=status.HTTP_202_ACCEPTED)
def start_training(
    request: TrainingStartRequest, runtime: RuntimeDep
) -> Envelope[OperationStarted]:
    strategy = build_strategy(request)
    try:
        runtime.market.load(
            strategy.data.symbol,
            strategy.data.timeframe,
            strategy.data.train_start,
            strategy.data.train_end,
        )
    except NotFoundError as exc:
        raise InvalidRequestError(exc.message, details={"field": "symbol"}) from None
    op_id = create_training(runtime.service, strategy)
    submit_training(runtime.executor, op_id, strategy, runtime.market, runtime.settings.models_dir)
    op = runtime.service.get(op_id)
    return Envelope(
        data=OperationStarted(
            operation_id=op_id, operation_type=op.operation_type, status=op.status
        )
    )
