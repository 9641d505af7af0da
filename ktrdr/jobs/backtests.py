"""Starting a backtest: check a request against the trained model and the data, then run it.

``start_backtest`` is the whole path for a request; ``resolve_backtest``, creating the
operation (``JobDependencies.create_operation`` with ``ResolvedBacktest.parameters()``) and
``submit_backtest`` are its steps, apart so a research cycle can record the child's id
before the child runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from ktrdr.backtesting.job import BacktestJob
from ktrdr.contract.requests import BacktestStartRequest, check_market_date
from ktrdr.errors import (
    InvalidRequestError,
    JobFailedError,
    NotFoundError,
    StrategyValidationError,
)
from ktrdr.excerpt import excerpt
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.records.models import Operation, OperationType
from ktrdr.training.model_store import TrainedModel, list_models, load_model

# How many model names a refusal lists: enough to spot a typo, never the whole store.
MAX_MODEL_NAMES_SHOWN = 5


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
    model = _load_requested_model(deps, request.model)
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
    check_market_date("start", start)  # the model's own dates came from its strategy file
    check_market_date("end", end)
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


def _load_requested_model(deps: JobDependencies, wanted: str) -> TrainedModel:
    """The model a request names. A refusal shows no server path and reads the same
    whether or not something exists at a path outside the models directory: a request may
    come from anyone who can reach the API."""
    try:
        return load_model(wanted, deps.models_dir)
    except StrategyValidationError:
        raise InvalidRequestError(
            f"model {excerpt(wanted)} holds a strategy this ktrdr cannot read; train it again",
            details={"field": "model"},
        ) from None
    except InvalidRequestError:
        raise _no_such_model(deps, wanted) from None
    except JobFailedError:
        raise JobFailedError(
            f"model {excerpt(wanted)} cannot be loaded (its files are damaged); train it again",
            details={"field": "model"},
        ) from None


def _no_such_model(deps: JobDependencies, wanted: str) -> InvalidRequestError:
    names = sorted({info.name for info in list_models(deps.models_dir)})
    shown = names[:MAX_MODEL_NAMES_SHOWN]
    some = ", ".join(shown) + (
        f" and {len(names) - len(shown)} more" if names[len(shown) :] else ""
    )
    return InvalidRequestError(
        f"no model {excerpt(wanted)} on this backend "
        f"({'models: ' + some if names else 'no models yet: train one first'}); "
        "`ktrdr model list` shows them all",
        details={"field": "model", "some_models": shown, "models": len(names)},
    )


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
    operation_id = deps.create_operation(OperationType.BACKTESTING, resolved.parameters())
    submit_backtest(deps, operation_id, resolved)
    return deps.service.get(operation_id)
