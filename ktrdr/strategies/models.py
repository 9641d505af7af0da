"""The strategy config (pydantic): shared by designers, training, backtesting and the API."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IndicatorType = Literal[
    "rsi", "sma_cross", "ema_cross", "macd", "bollinger", "atr", "returns", "momentum"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndicatorSpec(_Strict):
    """One indicator instance; ``name`` is unique in the strategy and prefixes its features."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    type: IndicatorType
    params: dict[str, float] = Field(default_factory=dict)


class FuzzySetSpec(_Strict):
    """A fuzzy set over an indicator's value: triangular (3 points) or trapezoid (4 points)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    shape: Literal["triangular", "trapezoid"]
    points: list[float]

    @model_validator(mode="after")
    def _check_points(self) -> FuzzySetSpec:
        want = 3 if self.shape == "triangular" else 4
        if len(self.points) != want:
            raise ValueError(f"a {self.shape} set needs {want} points, got {len(self.points)}")
        if any(b < a for a, b in zip(self.points, self.points[1:], strict=False)):
            raise ValueError("fuzzy set points must be non-decreasing")
        return self


class FuzzyFeatureSpec(_Strict):
    """Fuzzy sets over one indicator; each set becomes one model input named ``<ind>_<set>``."""

    indicator: str
    sets: list[FuzzySetSpec] = Field(min_length=1)


class ModelSpec(_Strict):
    hidden_layers: list[int] = Field(default_factory=lambda: [32, 16], min_length=1)
    epochs: int = Field(default=60, ge=1, le=100_000)
    learning_rate: float = Field(default=1e-3, gt=0, le=1)
    batch_size: int = Field(default=64, ge=1, le=100_000)
    l2: float = Field(default=1e-4, ge=0)
    seed: int = 0

    @field_validator("hidden_layers")
    @classmethod
    def _positive_layers(cls, v: list[int]) -> list[int]:
        if any(n < 1 or n > 4096 for n in v):
            raise ValueError("hidden layer sizes must be between 1 and 4096")
        return v


class LabelSpec(_Strict):
    """buy when the forward return over ``horizon`` bars exceeds ``threshold``; sell below -it."""

    horizon: int = Field(default=5, ge=1, le=500)
    threshold: float = Field(default=0.01, gt=0, lt=1)


class BacktestSpec(_Strict):
    mode: Literal["long_flat", "long_short"] = "long_flat"
    commission: float = Field(default=0.0005, ge=0, lt=0.1)  # fraction of traded notional
    slippage: float = Field(default=0.0005, ge=0, lt=0.1)  # fraction of price, per side
    initial_capital: float = Field(default=100_000.0, gt=0)


class DataSpec(_Strict):
    """Which bars: training uses [train_start, train_end], the backtest [test_start, test_end].

    The last ``validation_fraction`` of the training range is the validation set.
    """

    symbol: str = "SP500"
    timeframe: str = "1d"
    train_start: date | None = None
    train_end: date = date(2013, 12, 31)
    test_start: date = date(2014, 1, 1)
    test_end: date | None = None
    validation_fraction: float = Field(default=0.2, gt=0, lt=0.9)

    @model_validator(mode="after")
    def _out_of_sample(self) -> DataSpec:
        if self.train_start is not None and self.train_start >= self.train_end:
            raise ValueError("train_start must be before train_end")
        if self.test_start <= self.train_end:
            raise ValueError("test_start must be after train_end (backtests are out of sample)")
        if self.test_end is not None and self.test_end <= self.test_start:
            raise ValueError("test_end must be after test_start")
        return self


class StrategyConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$", max_length=80)
    description: str = ""
    data: DataSpec = Field(default_factory=DataSpec)
    indicators: list[IndicatorSpec] = Field(min_length=1)
    fuzzy: list[FuzzyFeatureSpec] = Field(default_factory=list)
    labels: LabelSpec = Field(default_factory=LabelSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    backtest: BacktestSpec = Field(default_factory=BacktestSpec)

    @model_validator(mode="after")
    def _references(self) -> StrategyConfig:
        names = [i.name for i in self.indicators]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"indicator names must be unique, repeated: {', '.join(dupes)}")
        for f in self.fuzzy:
            if f.indicator not in names:
                raise ValueError(f"fuzzy sets refer to unknown indicator {f.indicator!r}")
            set_names = [s.name for s in f.sets]
            if len(set(set_names)) != len(set_names):
                raise ValueError(f"fuzzy set names for {f.indicator!r} must be unique")
        return self
