from __future__ import annotations

import codecs
import json
from datetime import date
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request, status
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from ktrdr.api.deps import RuntimeDep
from ktrdr.contract.catalog import (
    BarPublic,
    ModelPublic,
    SeriesDetailPublic,
    SeriesPublic,
    SeriesRangePublic,
)
from ktrdr.contract.operations import Envelope
from ktrdr.contract.requests import DataImportRequest
from ktrdr.data.series_names import Symbol, Timeframe
from ktrdr.errors import InvalidRequestError
from ktrdr.training.model_store import list_models

router = APIRouter(tags=["data"])


@router.get("/data")
def list_series(runtime: RuntimeDep) -> Envelope[list[SeriesPublic]]:
    return Envelope(
        data=[SeriesPublic(**info.model_dump()) for info in runtime.market.list_series()]
    )


@router.get("/data/{symbol}")
def show_series(
    symbol: Symbol,
    runtime: RuntimeDep,
    timeframe: Timeframe = "1d",
    tail: Annotated[int, Query(ge=0, le=1000)] = 10,
    start: date | None = None,
    end: date | None = None,
) -> Envelope[SeriesDetailPublic]:
    """A series: its span, its last ``tail`` bars within [start, end], and that range's stats."""
    whole = runtime.market.load(symbol, timeframe)
    bars = runtime.market.load(symbol, timeframe, start, end)
    info = runtime.market.series_info(bars.symbol, bars.timeframe)
    recent = [
        BarPublic(
            timestamp=str(bars.timestamps[i].astype("datetime64[s]")),
            open=float(bars.open[i]),
            high=float(bars.high[i]),
            low=float(bars.low[i]),
            close=float(bars.close[i]),
            volume=float(bars.volume[i]),
        )
        for i in range(max(len(bars) - tail, 0), len(bars))
    ]
    year_ago = whole.timestamps[-1] - np.timedelta64(365, "D")
    earlier = np.flatnonzero(whole.timestamps <= year_ago)
    change = float(whole.close[-1] / whole.close[earlier[-1]] - 1.0) if earlier.size else None
    selected = SeriesRangePublic(
        first=bars.first_timestamp,
        last=bars.last_timestamp,
        bars=len(bars),
        change=float(bars.close[-1] / bars.close[0] - 1.0),
        high=float(bars.high.max()),
        low=float(bars.low.min()),
    )
    return Envelope(
        data=SeriesDetailPublic(
            **info.model_dump(),
            recent=recent,
            last_close=float(whole.close[-1]),
            change_1y=change,
            selected=selected,
        )
    )


# The route reads its own body (below), so FastAPI cannot describe it: the schema is given.
_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": DataImportRequest.model_json_schema()}},
    }
}


@router.post(
    "/data/import",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_IMPORT_BODY,
    responses={
        409: {"description": "too_many_imports: KTRDR_MAX_CONCURRENT_IMPORTS already run"},
        413: {"description": "body_too_large: over KTRDR_MAX_IMPORT_BYTES"},
        422: {"description": "validation_error (the request) or invalid_data (the CSV)"},
    },
)
async def import_series(request: Request, runtime: RuntimeDep) -> Envelope[SeriesPublic]:
    """Validate and store an uploaded CSV (a ``DataImportRequest``; its size is bounded by
    KTRDR_MAX_IMPORT_BYTES). At most KTRDR_MAX_CONCURRENT_IMPORTS run at once; one more is
    refused at once with 409 ``too_many_imports``, before its body is parsed.

    The body is read here rather than by FastAPI so that at most two copies of it exist at
    any moment (FastAPI keeps the raw bytes, a decoded document and the parsed request to the
    end): it is decoded as it arrives, joined, parsed as JSON, and each form is dropped once
    the next exists; the CSV text is then parsed a piece at a time."""
    market = runtime.market
    with market.import_slots.taken(runtime.settings.max_concurrent_imports):
        upload = await run_in_threadpool(_parsed, await _body_pieces(request))
        info = await run_in_threadpool(
            market.import_text, upload.csv_text, upload.filename, upload.symbol, upload.timeframe
        )
    return Envelope(data=SeriesPublic(**info.model_dump()))


async def _body_pieces(request: Request) -> list[str]:
    """The body as UTF-8 text, decoded message by message (the request guard has already
    bounded its size)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pieces: list[str] = []
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequestError("the upload ended before its body was complete")
        more = bool(message.get("more_body", False))
        try:
            pieces.append(decoder.decode(message.get("body", b""), final=not more))
        except UnicodeDecodeError:
            raise InvalidRequestError("the request body is not UTF-8 text") from None
        # The request guard keeps the messages it replays until the request ends: emptying
        # each one once decoded lets its bytes go now, so the body is not held twice.
        message["body"] = b""
        if not more:
            return pieces


def _parsed(pieces: list[str]) -> DataImportRequest:
    """The request in ``pieces``; the pieces are emptied (see ``import_series``)."""
    document = "".join(pieces)
    pieces.clear()
    try:
        fields = json.loads(document)
    except (json.JSONDecodeError, RecursionError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", position),
                    "msg": "JSON decode error",
                    "ctx": {"error": reason},
                }
            ]
        ) from None
    del document
    return DataImportRequest.model_validate(fields)


@router.get("/models")
def models(runtime: RuntimeDep) -> Envelope[list[ModelPublic]]:
    return Envelope(
        data=[ModelPublic(**m.to_dict()) for m in list_models(runtime.settings.models_dir)]
    )
