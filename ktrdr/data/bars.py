"""Bars: an OHLCV series held as aligned numpy arrays (the unit every engine consumes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.datetime64]


def instant(moment: date) -> np.datetime64:
    """A date (its midnight) or datetime as a datetime64[s] comparable with bar timestamps
    (UTC, naive)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return np.datetime64(moment.replace(microsecond=0), "s")
    return np.datetime64(datetime(moment.year, moment.month, moment.day), "s")


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
