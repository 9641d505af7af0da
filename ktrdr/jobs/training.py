"""Starting a training: which strategy a request means, and the operation that trains it.

``start_training`` is the whole path for a request; creating the operation
(``JobDependencies.create_operation`` with ``training_parameters``) and ``submit_training``
are its two halves, apart so a research cycle can record the child's id before the child
runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any

from pydantic import ValidationError

from ktrdr.contract.requests import TrainingStartRequest, check_market_date
from ktrdr.errors import InvalidRequestError, NotFoundError, StrategyValidationError
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.jobs.strategy_files import read_named_strategy
from ktrdr.records.models import Operation, OperationType
from ktrdr.strategies.models import StrategyConfig, check_training_size
from ktrdr.training.job import TrainingJob


def build_strategy(
    request: TrainingStartRequest, strategies_dir: Path | None = None
) -> StrategyConfig:
    """The strategy a request means (by name or inline), its overrides applied and the
    whole checked once as a ``StrategyConfig`` (errors name the field).

    ``strategy`` is a name (a shipped example or a file in ``strategies_dir``), never a
    path on this machine: a request may come from anyone who can reach the API."""
    if (request.strategy is None) == (request.strategy_config is None):
        raise InvalidRequestError(
            "Give exactly one of `strategy` (a name) or `strategy_config`",
            details={"field": "strategy"},
        )
    if request.strategy is not None:
        base = read_named_strategy(request.strategy, strategies_dir)
    else:
        base = dict(request.strategy_config or {})
    # The request's overrides are merged into these two sections, so they must be mappings.
    data, model = _section(base, "data"), _section(base, "model")
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
        base["model"] = {**model, "epochs": request.epochs}
    strategy = _validated(base)
    for name in ("train_start", "train_end", "test_start", "test_end"):
        check_market_date(f"strategy.data.{name}", getattr(strategy.data, name))
    return strategy


# What a JSON value that is not an object is, in words (bool before int: it is one).
_JSON_KINDS: tuple[tuple[type | UnionType, str], ...] = (
    (bool, "true/false"),
    (int | float, "a number"),
    (str, "text"),
    (object, "a list"),
)


def _section(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A copy of the strategy section ``name`` ({} when absent); a section that is not a
    mapping (``"data": 5``) is the caller's mistake, named as such."""
    value = config.get(name)
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    kind = next(label for types, label in _JSON_KINDS if isinstance(value, types))
    raise StrategyValidationError(
        f"Invalid strategy: {name}: must be a mapping of its fields, not {kind}",
        details={"field": f"strategy.{name}", "errors": 1},
    )


def _validated(config: dict[str, Any]) -> StrategyConfig:
    try:
        return StrategyConfig.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise StrategyValidationError(
            f"Invalid strategy: {where}: {first.get('msg')}",
            details={"field": f"strategy.{where}", "errors": len(exc.errors())},
        ) from None


def training_parameters(strategy: StrategyConfig) -> dict[str, Any]:
    """What the training operation records about its strategy (``metadata.parameters``)."""
    return {
        "strategy_name": strategy.name,
        "symbol": strategy.data.symbol,
        "timeframe": strategy.data.timeframe,
        "epochs": strategy.model.epochs,
        "train_start": str(strategy.data.train_start) if strategy.data.train_start else None,
        "train_end": str(strategy.data.train_end),
    }


def submit_training(deps: JobDependencies, operation_id: str, strategy: StrategyConfig) -> None:
    deps.executor.submit(operation_id, TrainingJob(strategy, deps.market, deps.models_dir))


def start_training(deps: JobDependencies, request: TrainingStartRequest) -> Operation:
    """Check the request (strategy, then that its bars exist), create the operation and
    submit its job. Nothing is created when the request is refused."""
    strategy = build_strategy(request, deps.strategies_dir)
    try:
        bars = deps.market.load(
            strategy.data.symbol,
            strategy.data.timeframe,
            strategy.data.train_start,
            strategy.data.train_end,
        )
    except NotFoundError as exc:
        raise InvalidRequestError(exc.message, details={"field": "symbol"}) from None
    check_training_size(strategy, len(bars))  # epochs x rows, known only now
    deps.executor.ensure_available()  # e.g. a Dask scheduler that is down: 503, nothing made
    operation_id = deps.create_operation(OperationType.TRAINING, training_parameters(strategy))
    submit_training(deps, operation_id, strategy)
    return deps.service.get(operation_id)
