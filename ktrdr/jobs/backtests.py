"""Starting a backtest: check a request against the trained model and the data, then run it.

``start_backtest`` is the whole path for a request; ``resolve_backtest``,
``create_backtest`` and ``submit_backtest`` are its steps, apart so a research cycle can
record the child's id before the child runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from ktrdr.backtesting.job import BacktestJob
from ktrdr.contract.requests import BacktestStartRequest
from ktrdr.errors import InvalidRequestError, NotFoundError
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.records.models import Operation, OperationType
from ktrdr.training.model_store import TrainedModel, load_model


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

    def with_costs(self, multiplier: float) -> ResolvedBacktest:
        """The same backtest with its commission and slippage scaled (a research cycle's
        cost stress); the product may exceed what a caller may ask for, on purpose."""
        costs = self.model.strategy.backtest
        return replace(
            self,
            model=_with_backtest(
                self.model,
                commission=costs.commission * multiplier,
                slippage=costs.slippage * multiplier,
            ),
        )


def _with_backtest(model: TrainedModel, **overrides: Any) -> TrainedModel:
    """``model`` with its strategy's backtest settings overridden (the model is unchanged)."""
    strategy = model.strategy
    backtest = strategy.backtest.model_copy(update=overrides)
    return replace(model, strategy=strategy.model_copy(update={"backtest": backtest}))


def resolve_backtest(deps: JobDependencies, request: BacktestStartRequest) -> ResolvedBacktest:
    """Check everything a backtest needs before it becomes an operation (errors are 4xx):
    the one place a request becomes the resolved form a job runs."""
    model = load_model(request.model, deps.models_dir)
    overrides = {
        name: value
        for name, value in (
            ("mode", request.mode),
            ("commission", request.commission),
            ("slippage", request.slippage),
        )
        if value is not None
    }
    if overrides:
        model = _with_backtest(model, **overrides)
    strategy = model.strategy
    symbol = (request.symbol or strategy.data.symbol).upper()
    timeframe = request.timeframe or strategy.data.timeframe
    start = request.start_date or strategy.data.test_start
    end = request.end_date or strategy.data.test_end
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


def start_backtest(deps: JobDependencies, request: BacktestStartRequest) -> Operation:
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
