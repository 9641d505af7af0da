from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, status

from ktrdr.api.deps import RuntimeDep
from ktrdr.api.schemas import (
    BarPublic,
    DataImportRequest,
    Envelope,
    ModelPublic,
    SeriesDetailPublic,
    SeriesPublic,
)
from ktrdr.training.model_store import list_models

router = APIRouter(tags=["data"])


@router.get("/data")
def list_series(runtime: RuntimeDep) -> Envelope[list[SeriesPublic]]:
    return Envelope(
        data=[SeriesPublic(**info.model_dump()) for info in runtime.market.list_series()]
    )


@router.get("/data/{symbol}")
def show_series(
    symbol: str,
    runtime: RuntimeDep,
    timeframe: str = "1d",
    tail: Annotated[int, Query(ge=0, le=1000)] = 10,
) -> Envelope[SeriesDetailPublic]:
    bars = runtime.market.load(symbol, timeframe)
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
    year_ago = bars.timestamps[-1] - np.timedelta64(365, "D")
    earlier = np.flatnonzero(bars.timestamps <= year_ago)
    change = float(bars.close[-1] / bars.close[earlier[-1]] - 1.0) if earlier.size else None
    return Envelope(
        data=SeriesDetailPublic(
            **info.model_dump(), recent=recent, last_close=float(bars.close[-1]), change_1y=change
        )
    )


@router.post("/data/import", status_code=status.HTTP_201_CREATED)
def import_series(request: DataImportRequest, runtime: RuntimeDep) -> Envelope[SeriesPublic]:
    with tempfile.TemporaryDirectory(prefix="ktrdr-import-") as tmp:
        path = Path(tmp) / Path(request.filename).name
        path.write_text(request.csv_text, encoding="utf-8")
        info = runtime.market.import_csv(path, request.symbol, request.timeframe)
    return Envelope(data=SeriesPublic(**info.model_dump()))


@router.get("/models")
def models(runtime: RuntimeDep) -> Envelope[list[ModelPublic]]:
    return Envelope(
        data=[ModelPublic(**m.to_dict()) for m in list_models(runtime.settings.models_dir)]
    )
