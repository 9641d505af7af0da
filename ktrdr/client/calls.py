"""Every backend call as data: what to send (method, path, params, body) and how to read
the answer. The sync and async clients share these builders and differ only in sending,
so a path, a parameter or a parser is written once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from ktrdr.contract.cancelling import CancelPublic
from ktrdr.contract.catalog import ModelPublic, SeriesDetailPublic, SeriesPublic
from ktrdr.contract.operations import (
    AgentStatusPublic,
    HealthPublic,
    OperationPublic,
    OperationStarted,
    OperationSummaryPublic,
)
from ktrdr.contract.pictures import BacktestSeriesPublic, TrainingHistoryPublic
from ktrdr.contract.requests import (
    AgentTriggerRequest,
    BacktestStartRequest,
    DataImportRequest,
    TrainingStartRequest,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Envelope = dict[str, Any]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and the parser of its (successful) envelope."""

    method: str
    path: str
    parse: Callable[[Envelope], T]
    params: dict[str, Any] | None = None
    json: Any = field(default=None)


def path_segment(value: str) -> str:
    """``value`` as one URL path segment: every ``/``, ``.``-dot run, ``?``, ``%`` and
    control character escaped, so an id or a symbol can never name another resource."""
    encoded = quote(value, safe="")
    # "." and ".." are path steps even when nothing else needs escaping.
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def _data_as(model: type[M]) -> Callable[[Envelope], M]:
    return lambda body: model.model_validate(body["data"])


def _rows_as(model: type[M]) -> Callable[[Envelope], list[M]]:
    adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
    return lambda body: list(adapter.validate_python(body["data"]))


def request_body(request: BaseModel) -> dict[str, Any]:
    """A request model as JSON, unset top-level fields left out (the backend's defaults
    apply); nested values (a strategy config) travel exactly as given."""
    return {k: v for k, v in request.model_dump(mode="json").items() if v is not None}


def _started(path: str, request: BaseModel) -> Call[OperationStarted]:
    return Call("POST", path, _data_as(OperationStarted), json=request_body(request))


def health() -> Call[HealthPublic]:
    return Call("GET", "/health", _data_as(HealthPublic))


def _operations_page(body: Envelope) -> tuple[list[OperationSummaryPublic], int]:
    rows = [OperationSummaryPublic.model_validate(o) for o in body["data"]]
    return rows, int(body.get("total", len(rows)))


def list_operations(
    status: str | None,
    operation_type: str | None,
    parent_operation_id: str | None,
    limit: int,
    offset: int,
) -> Call[tuple[list[OperationSummaryPublic], int]]:
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    for name, value in (
        ("status", status),
        ("operation_type", operation_type),
        ("parent_operation_id", parent_operation_id),
    ):
        if value:
            params[name] = value
    return Call("GET", "/operations", _operations_page, params=params)


def get_operation(operation_id: str) -> Call[OperationPublic]:
    return Call("GET", f"/operations/{path_segment(operation_id)}", _data_as(OperationPublic))


def cancel_operation(operation_id: str) -> Call[CancelPublic]:
    """The operation as cancelled, and whether the cancel is on disk yet (``durable``)."""
    return Call("DELETE", f"/operations/{path_segment(operation_id)}", _data_as(CancelPublic))


def start_training(request: TrainingStartRequest) -> Call[OperationStarted]:
    return _started("/training/start", request)


def start_backtest(request: BacktestStartRequest) -> Call[OperationStarted]:
    return _started("/backtests/start", request)


def trigger_cycle(request: AgentTriggerRequest) -> Call[OperationStarted]:
    return _started("/agent/trigger", request)


def agent_status() -> Call[AgentStatusPublic]:
    return Call("GET", "/agent/status", _data_as(AgentStatusPublic))


def training_history(
    operation_id: str, since: int | None, max_points: int | None = None
) -> Call[TrainingHistoryPublic]:
    """``max_points``: thinned to about that many epochs, each figure's extremes kept."""
    params = {"since": since, "max_points": max_points}
    return Call(
        "GET",
        f"/training/{path_segment(operation_id)}/history",
        _data_as(TrainingHistoryPublic),
        params={key: value for key, value in params.items() if value is not None},
    )


def backtest_series(operation_id: str, max_points: int) -> Call[BacktestSeriesPublic]:
    return Call(
        "GET",
        f"/backtests/{path_segment(operation_id)}/series",
        _data_as(BacktestSeriesPublic),
        params={"max_points": max_points},
    )


def list_series() -> Call[list[SeriesPublic]]:
    return Call("GET", "/data", _rows_as(SeriesPublic))


def show_series(
    symbol: str, timeframe: str, tail: int, start: date | None, end: date | None
) -> Call[SeriesDetailPublic]:
    params: dict[str, Any] = {"timeframe": timeframe, "tail": tail}
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            params[name] = value.isoformat()
    return Call("GET", f"/data/{path_segment(symbol)}", _data_as(SeriesDetailPublic), params=params)


def import_series(request: DataImportRequest) -> Call[SeriesPublic]:
    return Call("POST", "/data/import", _data_as(SeriesPublic), json=request_body(request))


def list_models() -> Call[list[ModelPublic]]:
    return Call("GET", "/models", _rows_as(ModelPublic))
