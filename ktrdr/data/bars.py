"""Bars: an OHLCV series held as aligned numpy arrays (the unit every engine consumes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.datetime64]


@dataclass(frozen=True)
class Bars:
    symbol: str
    timeframe: str
    timestamps: TimeArray  # datetime64[s], sorted, unique
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return int(self.close.shape[0])

    def slice(self, start: int, stop: int) -> Bars:
        return Bars(
            symbol=self.symbol,
            timeframe=self.timeframe,
            timestamps=self.timestamps[start:stop],
            open=self.open[start:stop],
            high=self.high[start:stop],
            low=self.low[start:stop],
            close=self.close[start:stop],
            volume=self.volume[start:stop],
        )

    @property
    def first_timestamp(self) -> str:
        return str(self.timestamps[0].astype("datetime64[s]")) if len(self) else ""

    @property
    def last_timestamp(self) -> str:
        return str(self.timestamps[-1].astype("datetime64[s]")) if len(self) else ""
