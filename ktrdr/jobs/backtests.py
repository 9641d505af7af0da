"""Starting a backtest: check a request against the trained model and the data, then run it.

``start_backtest`` is the whole path for a request; ``resolve_backtest``,
``create_backtest`` and ``submit_backtest`` are its steps, apart so a research cycle can
record the child's id before the child runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from ktrdr.backtesting.job import BacktestJob
from ktrdr.errors import InvalidRequestError, NotFoundError
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.records.models import Operation, OperationType
from ktrdr.training.model_store import TrainedModel, load_model


@dataclass(frozen=True)
class BacktestRequest:
    """A model (directory, or strategy name for its newest model) and optional overrides."""

    model: str
    symbol: str | None = None
    timeframe: str | None = None
    start: date | None = None
    end: date | None = None
    mode: Literal["long_flat", "long_short"] | None = None
    commission: float | None = None
    slippage: float | None = None


@dataclass(frozen=True)
class ResolvedBacktest:
    """A request checked and completed from the model's strategy: ready to run."""

    model: TrainedModel
    symbol: str
    timeframe: str
    start: date
    end: date | None

    def parameters(self) -> dict[str, Any]:
        """What the backtest operation records (``metadata.parameters``)."""
        return {
            "model": str(self.model.path),
            "strategy_name": self.model.strategy.name,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "start": str(self.start),
            "end": str(self.end) if self.end else None,
            "mode": self.model.strategy.backtest.mode,
        }


def resolve_backtest(deps: JobDependencies, request: BacktestRequest) -> ResolvedBacktest:
    """Check everything a backtest needs before it becomes an operation (errors are 4xx)."""
    model = load_model(request.model, deps.models_dir)
    strategy = model.strategy
    overrides: dict[str, Any] = {}
    if request.mode is not None:
        overrides["mode"] = request.mode
    if request.commission is not None:
        overrides["commission"] = request.commission
    if request.slippage is not None:
        overrides["slippage"] = request.slippage
    if overrides:
        backtest = strategy.backtest.model_copy(update=overrides)
        strategy = strategy.model_copy(update={"backtest": backtest})
        model = TrainedModel(
            path=model.path,
            strategy=strategy,
            classifier=model.classifier,
            scaler=model.scaler,
            feature_names=model.feature_names,
            meta=model.meta,
        )
    symbol = (request.symbol or strategy.data.symbol).upper()
    timeframe = request.timeframe or strategy.data.timeframe
    start = request.start or strategy.data.test_start
    end = request.end or strategy.data.test_end
    if end is not None and end <= start:
        raise InvalidRequestError(
            f"end ({end}) must be after start ({start})", details={"field": "end"}
        )
    train_end = strategy.data.train_end
    if symbol == strategy.data.symbol.upper() and start <= train_end:
        raise InvalidRequestError(
            f"start {start} is inside the model's training range (ends {train_end}); "
            "a backtest must be out of sample",
            details={"field": "start"},
        )
    deps.market.load(symbol, timeframe, start, end)  # unknown symbol / empty range fail here
    return ResolvedBacktest(model, symbol, timeframe, start, end)


def create_backtest(
    deps: JobDependencies,
    resolved: ResolvedBacktest,
    parent_operation_id: str | None = None,
    parameters: Mapping[str, object] | None = None,
) -> str:
    """Create the (pending) backtest operation; submit it with ``submit_backtest``.
    ``parameters`` (e.g. a research cycle's role, fold and candidate) join its metadata."""
    op = deps.service.create(
        OperationType.BACKTESTING,
        parent_operation_id=parent_operation_id,
        parameters={**resolved.parameters(), **(parameters or {})},
    )
    return op.operation_id


def submit_backtest(deps: JobDependencies, operation_id: str, resolved: ResolvedBacktest) -> None:
    job = BacktestJob(
        operation_id=operation_id,
        model=resolved.model,
        symbol=resolved.symbol,
        timeframe=resolved.timeframe,
        start=resolved.start,
        end=resolved.end,
        market=deps.market,
        results_dir=deps.backtests_dir,
    )
    deps.executor.submit(operation_id, job)


def start_backtest(deps: JobDependencies, request: BacktestRequest) -> Operation:
    """Check the request, create the operation and submit its job. Nothing is created
    when the request is refused; a missing model or series is a bad request (422)."""
    try:
        resolved = resolve_backtest(deps, request)
    except NotFoundError as exc:
        raise InvalidRequestError(exc.message, details={"field": "symbol"}) from None
    deps.executor.ensure_available()
    operation_id = create_backtest(deps, resolved)
    submit_backtest(deps, operation_id, resolved)
    return deps.service.get(operation_id)
