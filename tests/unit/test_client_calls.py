"""The typed calls: a request model goes out as its JSON body, a typed answer comes back,
and the sync and async clients send the very same request for a call."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import httpx
import pytest

from ktrdr.client import AsyncKtrdrClient, KtrdrClient
from ktrdr.contract.catalog import SeriesDetailPublic, SeriesPublic
from ktrdr.contract.requests import (
    AgentTriggerRequest,
    BacktestStartRequest,
    DataImportRequest,
    TrainingStartRequest,
    checked,
)
from ktrdr.errors import InvalidRequestError

BASE = "http://ktrdr.test:8123"
SERIES = {
    "symbol": "SP500",
    "timeframe": "1d",
    "bars": 3,
    "first": "2020-01-02T00:00:00",
    "last": "2020-01-06T00:00:00",
    "source": "bundled",
}


def started_json(operation_id: str) -> dict[str, str]:
    return {"operation_id": operation_id, "operation_type": "training", "status": "pending"}


class Recorder:
    """A fake backend: remembers each request and answers with the envelope given."""

    def __init__(self, data: Any, status: int = 200) -> None:
        self.data, self.status = data, status
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(self.status, json={"success": True, "data": self.data})

    def body(self, index: int = -1) -> Any:
        return json.loads(self.seen[index].content)


def test_a_training_request_goes_out_as_its_set_fields() -> None:
    backend = Recorder(started_json("op_training_1"), 202)
    request = TrainingStartRequest(strategy="rsi", epochs=3, train_end=date(2012, 6, 29))
    with KtrdrClient(BASE, transport=httpx.MockTransport(backend)) as client:
        started = client.start_training(request)
    assert started.operation_id == "op_training_1"
    (sent,) = backend.seen
    assert (sent.method, sent.url.path) == ("POST", "/api/v1/training/start")
    # None fields stay home (the backend's defaults apply); a date travels as ISO text.
    assert backend.body() == {"strategy": "rsi", "epochs": 3, "train_end": "2012-06-29"}


def test_a_nested_none_in_a_strategy_config_travels_as_given() -> None:
    backend = Recorder(started_json("op_1"), 202)
    config = {"name": "mine", "model": {"patience": None}}
    with KtrdrClient(BASE, transport=httpx.MockTransport(backend)) as client:
        client.start_backtest(BacktestStartRequest(model="mine", start_date=date(2016, 1, 4)))
        client.trigger_cycle(AgentTriggerRequest(strategy_config=config, seed=5))
    assert [r.url.path for r in backend.seen] == [
        "/api/v1/backtests/start",
        "/api/v1/agent/trigger",
    ]
    assert backend.body(0) == {"model": "mine", "start_date": "2016-01-04"}
    assert backend.body(1) == {"strategy_config": config, "seed": 5}


def test_the_sync_and_async_clients_send_the_same_trigger() -> None:
    sync_backend = Recorder(started_json("op_a"), 202)
    async_backend = Recorder(started_json("op_a"), 202)
    request = AgentTriggerRequest(folds=2, walk_forward_mode="rolling", holdout_fraction=0.2)
    with KtrdrClient(BASE, transport=httpx.MockTransport(sync_backend)) as client:
        sync_id = client.trigger_cycle(request).operation_id

    async def trigger() -> str:
        transport = httpx.MockTransport(async_backend)
        async with AsyncKtrdrClient(BASE, transport=transport) as client:
            return (await client.trigger_cycle(request)).operation_id

    assert asyncio.run(trigger()) == sync_id == "op_a"
    (sync_sent,), (async_sent,) = sync_backend.seen, async_backend.seen
    assert (sync_sent.method, str(sync_sent.url)) == (async_sent.method, str(async_sent.url))
    assert (
        sync_backend.body()
        == async_backend.body()
        == {
            "folds": 2,
            "walk_forward_mode": "rolling",
            "holdout_fraction": 0.2,
        }
    )


def test_series_reads_are_typed_and_show_sends_its_range_as_params() -> None:
    listing = Recorder([SERIES])
    with KtrdrClient(BASE, transport=httpx.MockTransport(listing)) as client:
        assert client.list_series() == [SeriesPublic(**SERIES)]
    detail = Recorder({**SERIES, "recent": [], "last_close": 3.5})
    with KtrdrClient(BASE, transport=httpx.MockTransport(detail)) as client:
        shown = client.show_series("SP500", tail=2, start=date(2020, 1, 2))
    assert isinstance(shown, SeriesDetailPublic) and shown.last_close == 3.5
    (sent,) = detail.seen
    assert sent.url.path == "/api/v1/data/SP500"
    assert dict(sent.url.params) == {"timeframe": "1d", "tail": "2", "start": "2020-01-02"}


def test_an_import_posts_the_file_and_reads_the_stored_series() -> None:
    backend = Recorder(SERIES, 201)
    request = DataImportRequest(symbol="SP500", timeframe="1d", csv_text="a,b\n", filename="x.csv")
    with KtrdrClient(BASE, transport=httpx.MockTransport(backend)) as client:
        assert client.import_series(request).bars == 3
    assert backend.body() == {
        "symbol": "SP500",
        "timeframe": "1d",
        "csv_text": "a,b\n",
        "filename": "x.csv",
    }


def test_checked_names_the_wrong_fields_as_an_invalid_request() -> None:
    assert checked(BacktestStartRequest, model="m", mode=None).model == "m"
    with pytest.raises(InvalidRequestError) as info:
        checked(BacktestStartRequest, model="m", mode="sideways", commission=0.5)
    message = info.value.message
    assert message.startswith("Invalid request: mode: ")
    assert "commission: " in message and "sideways" not in message
    assert info.value.details == {"field": "mode"}
