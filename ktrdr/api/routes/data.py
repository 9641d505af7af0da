from __future__ import annotations

from datetime import date
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, status

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
    info = next(
        s
        for s in runtime.market.list_series()
        if s.symbol == bars.symbol and s.timeframe == bars.timeframe
    )
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


@router.post("/data/import", status_code=status.HTTP_201_CREATED)
def import_series(request: DataImportRequest, runtime: RuntimeDep) -> Envelope[SeriesPublic]:
    """Validate and store an uploaded CSV (its size is bounded by KTRDR_MAX_IMPORT_BYTES)."""
    info = runtime.market.import_text(
        request.csv_text, request.filename, request.symbol, request.timeframe
    )
    return Envelope(data=SeriesPublic(**info.model_dump()))


@router.get("/models")
def models(runtime: RuntimeDep) -> Envelope[list[ModelPublic]]:
    return Envelope(
        data=[ModelPublic(**m.to_dict()) for m in list_models(runtime.settings.models_dir)]
    )
