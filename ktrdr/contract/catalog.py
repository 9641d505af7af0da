"""What the backend holds, as the data and model routes answer it: series and trained models."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SeriesPublic(BaseModel):
    symbol: str
    timeframe: str
    bars: int
    first: str
    last: str
    source: str


class BarPublic(BaseModel):
    timestamp: str
    open: float
    high: float
    low: float
    close: float
    volume: float


class SeriesRangePublic(BaseModel):
    """The bars a show request selected (the whole series without start/end)."""

    first: str
    last: str
    bars: int
    change: float  # close-to-close over the range
    high: float
    low: float


class SeriesDetailPublic(SeriesPublic):
    recent: list[BarPublic] = Field(default_factory=list)
    last_close: float | None = None
    change_1y: float | None = None
    selected: SeriesRangePublic | None = None


class ModelPublic(BaseModel):
    name: str
    path: str
    created_at: str
