"""The data behind the pictures on the wire: a training's epochs and a backtest's series.

``GET /api/v1/training/{id}/history`` answers a ``TrainingHistoryPublic`` and
``GET /api/v1/backtests/{id}/series`` a ``BacktestSeriesPublic``; the web page draws them,
the CLI draws the series in the terminal and into files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ktrdr.records.results import BenchmarkFigures, EpochFigures, TradingMetrics

MAX_POINTS_DEFAULT = 2_000
MAX_POINTS_LIMIT = 20_000


class TrainingHistoryPublic(BaseModel):
    """A training's epochs in order: live while it runs (an epoch reported between two
    reads may be missing, none is ever repeated), its whole history once it ended. Each
    epoch is the record the training engine made for it; every one sent has its ``epoch``."""

    operation_id: str
    status: str
    epochs_total: int | None = None
    epochs: list[EpochFigures] = Field(default_factory=list)


class TradePublic(BaseModel):
    # "return" is a Python keyword: the field is ``net_return``, the wire key "return".
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    direction: Literal["long", "short"]
    entry_time: str
    exit_time: str
    entry_price: float
    exit_price: float
    net_return: float = Field(alias="return")
    bars_held: int


class BacktestSeriesPublic(BaseModel):
    """A completed backtest's curves on the same timestamps: its equity, buy-and-hold from
    the same capital, and the equity's drawdown (fraction below its running peak, <= 0).

    ``bars`` counts the full series, ``points`` the ones sent; when ``downsampled``, each
    bucket's extremes were kept, so the peaks and the deepest drawdown are among them.
    ``buy_and_hold`` is empty for a backtest run before it was recorded."""

    operation_id: str
    status: str
    symbol: str
    timeframe: str
    bars: int
    points: int
    downsampled: bool
    initial_capital: float
    timestamps: list[str]
    equity: list[float]
    buy_and_hold: list[float]
    drawdown: list[float]
    trades: list[TradePublic]
    metrics: TradingMetrics
    benchmark: BenchmarkFigures
    strategy_name: str | None = None
