"""KtrdrClient over httpx.MockTransport: envelopes in, typed results or typed errors out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ktrdr.client import (
    ApiError,
    AsyncKtrdrClient,
    BackendTimeoutError,
    BackendUnavailableError,
    ClientError,
    ClientTimeout,
    KtrdrClient,
    NotFoundApiError,
)
from ktrdr.client.errors import ConflictApiError
from ktrdr.errors import KtrdrError
from ktrdr.records.models import OperationStatus, OperationType

BASE = "http://ktrdr.test:8123"
Handler = Callable[[httpx.Request], httpx.Response]


def operation_json(operation_id: str = "op_training_1", **extra: Any) -> dict[str, Any]:
    return {
        "operation_id": operation_id,
        "operation_type": "training",
        "status": "running",
        "parent_operation_id": None,
        "created_at": "2024-03-01T12:00:00Z",
        "started_at": "2024-03-01T12:00:01Z",
        "completed_at": None,
        "updated_at": "2024-03-01T12:00:05Z",
        "progress": {
            "percentage": 42.0,
            "current_step": "Epoch 42/100",
            "items_processed": 42,
            "items_total": 100,
            "context": {},
        },
        "metadata": {"parameters": {"symbol": "SP500"}},
        "result_summary": None,
        "error_message": None,
        "cancel_requested": False,
        "version": 7,
        "children": [],
        "elapsed_seconds": 4.0,
        **extra,
    }


def error_json(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message, "details": details}}


def client_with(handler: Handler) -> KtrdrClient:
    return KtrdrClient(BASE + "/", transport=httpx.MockTransport(handler))


def test_get_operation_decodes_the_success_envelope() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"success": True, "data": operation_json()})

    with client_with(handler) as client:
        op = client.get_operation("op_training_1")
    assert str(requests[0].url) == f"{BASE}/api/v1/operations/op_training_1"
    assert requests[0].method == "GET"
    assert op.operation_id == "op_training_1"
    assert op.operation_type is OperationType.TRAINING
    assert op.status is OperationStatus.RUNNING
    assert op.progress.percentage == 42.0
    assert op.version == 7
    assert op.metadata.parameters == {"symbol": "SP500"}


def test_list_operations_sends_filters_and_returns_total() -> None:
    seen: list[httpx.QueryParams] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params)
        body = {
            "success": True,
            "data": [operation_json("op_a"), operation_json("op_b")],
            "total": 9,
            "limit": 2,
            "offset": 4,
        }
        return httpx.Response(200, json=body)

    with client_with(handler) as client:
        ops, total = client.list_operations(
            status="running", operation_type="training", limit=2, offset=4
        )
        client.list_operations()
    assert [op.operation_id for op in ops] == ["op_a", "op_b"] and total == 9
    assert dict(seen[0]) == {
        "status": "running",
        "operation_type": "training",
        "limit": "2",
        "offset": "4",
    }
    assert dict(seen[1]) == {"limit": "100", "offset": "0"}


def test_health_and_cancel() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/health":
            data = {
                "version": "0.1.0",
                "pid": 42,
                "store": "memory",
                "started_at": "2024-03-01T12:00:00Z",
                "active_operations": 1,
            }
            return httpx.Response(200, json={"success": True, "data": data})
        assert request.method == "DELETE"
        return httpx.Response(
            200, json={"success": True, "data": operation_json(cancel_requested=True)}
        )

    with client_with(handler) as client:
        health = client.health()
        cancelled = client.cancel_operation("op_training_1")
    assert (health.service, health.pid, health.active_operations) == ("ktrdr", 42, 1)
    assert cancelled.cancel_requested


def test_404_is_a_not_found_error_with_the_code() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = error_json("operation_not_found", "Operation 'op_x' not found", operation_id="op_x")
        return httpx.Response(404, json=body)

    with client_with(handler) as client, pytest.raises(NotFoundApiError) as info:
        client.get_operation("op_x")
    err = info.value
    assert err.status_code == 404
    assert err.code == "operation_not_found"
    assert err.message == "Operation 'op_x' not found"
    assert err.details == {"operation_id": "op_x"}
    assert isinstance(err, ApiError) and isinstance(err, KtrdrError)


def test_409_is_a_conflict_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = error_json("operation_already_finished", "Cannot cancel: already completed")
        return httpx.Response(409, json=body)

    with client_with(handler) as client, pytest.raises(ConflictApiError) as info:
        client.cancel_operation("op_x")
    assert info.value.status_code == 409
    assert info.value.code == "operation_already_finished"
    assert not isinstance(info.value, NotFoundApiError)


def test_422_is_an_api_error_with_status_422() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        errors = [{"field": "status", "message": "Input should be 'pending', ..."}]
        body = error_json("validation_error", "Invalid request: status", errors=errors)
        return httpx.Response(422, json=body)

    with client_with(handler) as client, pytest.raises(ApiError) as info:
        client.list_operations(status="bogus")
    err = info.value
    assert type(err) is ApiError
    assert err.status_code == 422
    assert err.code == "validation_error"
    assert err.details["errors"][0]["field"] == "status"


def test_an_error_status_without_an_envelope_still_maps_by_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "Not Found"})

    with client_with(handler) as client, pytest.raises(NotFoundApiError) as info:
        client.get_operation("op_x")
    assert info.value.code == "http_404"
    assert info.value.message == "HTTP 404"


def test_a_success_status_with_a_failure_envelope_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=error_json("weird", "said no"))

    with client_with(handler) as client, pytest.raises(ApiError) as info:
        client.get_operation("op_x")
    assert (info.value.status_code, info.value.code) == (200, "weird")


@pytest.mark.parametrize(
    ("status", "content"),
    [
        (200, b"<html><body>a router login page</body></html>"),
        (502, b"Bad Gateway"),
        (200, b""),
    ],
)
def test_a_body_that_is_not_json_is_a_bad_response(status: int, content: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"content-type": "text/html"})

    with client_with(handler) as client, pytest.raises(ApiError) as info:
        client.get_operation("op_x")
    assert info.value.code == "bad_response"
    assert info.value.status_code == status
    assert "ktrdr.test:8123" in info.value.message


def test_json_that_is_not_an_object_is_a_bad_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps([1, 2, 3]).encode())

    with client_with(handler) as client, pytest.raises(ApiError) as info:
        client.list_operations()
    assert info.value.code == "bad_response"


def test_a_refused_connection_is_backend_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with client_with(handler) as client, pytest.raises(BackendUnavailableError) as info:
        client.list_operations()
    err = info.value
    assert not isinstance(err, BackendTimeoutError)
    assert err.code == "connection_lost"
    assert BASE in err.message
    assert err.details == {"url": BASE}
    assert isinstance(err, ClientError)
    assert err.__cause__ is None and err.__suppress_context__  # no httpx chain on display


@pytest.mark.parametrize(
    "timeout", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout]
)
def test_a_timeout_is_backend_timeout(timeout: type[httpx.TimeoutException]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise timeout("timed out", request=request)

    with client_with(handler) as client, pytest.raises(BackendTimeoutError) as info:
        client.get_operation("op_x")
    assert info.value.code == "timeout"
    assert isinstance(info.value, BackendUnavailableError)
    assert "did not answer in time" in info.value.message


def test_the_async_client_maps_the_same_way() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/op_ok"):
            return httpx.Response(200, json={"success": True, "data": operation_json("op_ok")})
        if request.url.path.endswith("/op_gone"):
            return httpx.Response(404, json=error_json("operation_not_found", "gone"))
        raise httpx.ConnectError("refused", request=request)

    async def scenario() -> None:
        transport = httpx.MockTransport(handler)
        async with AsyncKtrdrClient(BASE, transport=transport) as client:
            assert (await client.get_operation("op_ok")).operation_id == "op_ok"
            with pytest.raises(NotFoundApiError):
                await client.get_operation("op_gone")
            with pytest.raises(BackendUnavailableError):
                await client.cancel_operation("op_down")

    asyncio.run(scenario())


def every_step(seconds: float, connect: float) -> dict[str, float]:
    return {"connect": connect, "read": seconds, "write": seconds, "pool": seconds}


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (None, every_step(10.0, connect=2.0)),  # the default
        (ClientTimeout(3.0, connect=1.0), every_step(3.0, connect=1.0)),
        (ClientTimeout(4.0), every_step(4.0, connect=4.0)),
        (2.5, every_step(2.5, connect=2.5)),
    ],
)
def test_ktrdrs_own_timeout_reaches_every_request(
    timeout: ClientTimeout | float | None, expected: dict[str, float]
) -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"success": True, "data": operation_json()})

    kwargs: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    with KtrdrClient(BASE, transport=httpx.MockTransport(handler), **kwargs) as client:
        client.get_operation("op_training_1")

    async def scenario() -> None:
        transport = httpx.MockTransport(handler)
        async with AsyncKtrdrClient(BASE, transport=transport, **kwargs) as client:
            await client.get_operation("op_training_1")

    asyncio.run(scenario())
    assert seen == [expected, expected]


@pytest.mark.parametrize("bad", [{"seconds": 0.0}, {"seconds": 1.0, "connect": -1.0}])
def test_a_timeout_must_be_positive(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        ClientTimeout(**bad)


HISTORY = {
    "operation_id": "op_training_1",
    "status": "running",
    "epochs_total": 10,
    "epochs": [
        {"epoch": 3, "train_loss": 0.9, "val_loss": 1.1, "train_accuracy": 0.5},
        {"epoch": 4, "train_loss": 0.8, "val_loss": None, "val_accuracy": 0.4},
    ],
}
SERIES = {
    "operation_id": "op_backtesting_1",
    "status": "completed",
    "symbol": "SP500",
    "timeframe": "1d",
    "bars": 3,
    "points": 3,
    "downsampled": False,
    "initial_capital": 100.0,
    "timestamps": ["2024-01-01T00:00:00", "2024-01-02T00:00:00", "2024-01-03T00:00:00"],
    "equity": [100.0, 90.0, 95.0],
    "buy_and_hold": [100.0, 99.0, 101.0],
    "drawdown": [0.0, -0.1, -0.05],
    "trades": [
        {
            "direction": "long",
            "entry_time": "2024-01-01T00:00:00",
            "exit_time": "2024-01-03T00:00:00",
            "entry_price": 10.0,
            "exit_price": 9.5,
            "return": -0.05,
            "bars_held": 2,
        }
    ],
    "metrics": {"sharpe_ratio": 0.3, "num_trades": 1},
    "benchmark": {"total_return": 0.01},
    "strategy_name": "s",
}


def test_the_picture_reads_send_their_parameters_and_return_typed_records() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        data = HISTORY if request.url.path.endswith("/history") else SERIES
        return httpx.Response(200, json={"success": True, "data": data})

    with client_with(handler) as client:
        history = client.get_training_history("op_training_1", since=2)
        everything = client.get_training_history("op_training_1")
        series = client.get_backtest_series("op_backtesting_1", max_points=50)
    assert str(requests[0].url) == f"{BASE}/api/v1/training/op_training_1/history?since=2"
    assert str(requests[1].url) == f"{BASE}/api/v1/training/op_training_1/history"
    assert str(requests[2].url) == f"{BASE}/api/v1/backtests/op_backtesting_1/series?max_points=50"
    assert [e.epoch for e in history.epochs] == [3, 4] == [e.epoch for e in everything.epochs]
    assert history.epochs[1].val_loss is None and history.epochs_total == 10
    assert series.trades[0].net_return == -0.05
    assert series.model_dump(mode="json")["trades"][0]["return"] == -0.05
    assert series.metrics.num_trades == 1 and series.drawdown == [0.0, -0.1, -0.05]

    async def scenario() -> None:
        transport = httpx.MockTransport(handler)
        async with AsyncKtrdrClient(BASE, transport=transport) as client:
            assert (await client.get_training_history("op_training_1", 3)).status == "running"
            assert (await client.get_backtest_series("op_backtesting_1")).points == 3

    asyncio.run(scenario())
    assert requests[-1].url.params["max_points"] == "2000"
    assert requests[-2].url.params["since"] == "3"
