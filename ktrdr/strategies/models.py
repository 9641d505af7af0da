"""The strategy config (pydantic): shared by designers, training, backtesting and the API.

Validating a ``StrategyConfig`` is the one check a strategy goes through, whoever sends it
(a YAML file, the CLI, an API request, a designer): field types, the limits below on every
size a user controls, indicator parameters and the feature names they produce. Every
number is finite (JSON cannot carry NaN or infinity, and none of them means anything here).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ktrdr.data.series_names import Symbol, Timeframe
from ktrdr.errors import StrategyValidationError
from ktrdr.excerpt import excerpt
from ktrdr.research.walkforward import WalkForwardSpec
from ktrdr.strategies.grid import (
    MAX_GRID_PATH_LENGTH,
    MAX_GRID_PATHS,
    MAX_GRID_VARIANTS,
    GridError,
    GridValue,
    check_grid,
)
from ktrdr.strategies.indicator_params import ParameterError, Params, checked_params

IndicatorType = Literal[
    "rsi", "sma_cross", "ema_cross", "macd", "bollinger", "atr", "returns", "momentum"
]

# --- limits on what a strategy may ask for (each refused with a 422 naming the field) -------
MAX_STRATEGY_NAME_LENGTH = 80
MAX_NAME_LENGTH = 40  # indicator and fuzzy set names (they become feature column names)
MAX_DESCRIPTION_LENGTH = 2_000
MAX_INDICATORS = 20
MAX_FUZZY_SETS = 10  # per indicator
MAX_PARAMS = 8  # per indicator; no type takes more than three
MAX_HIDDEN_LAYERS = 8
MAX_LAYER_UNITS = 1_024
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 100_000
# epochs x training rows: what one training may cost (checked once the rows are known,
# with ``check_training_size``). 100,000 epochs of the bundled daily data fit.
MAX_SAMPLE_EPOCHS = 500_000_000
MAX_SEED = 2**32 - 1  # numpy and scikit-learn take seeds in [0, 2**32)
MAX_INITIAL_CAPITAL = 1e12

_NAME = r"^[a-z][a-z0-9_]*$"
_STRATEGY_NAME = r"^[A-Za-z0-9][A-Za-z0-9_\-]*$"
# A parameter value may arrive as NaN (YAML's .nan); the parameter rules say why it is wrong.
_ParamValue = Annotated[float, Field(allow_inf_nan=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class IndicatorSpec(_Strict):
    """One indicator instance; ``name`` is unique in the strategy and prefixes its features."""

    name: str = Field(pattern=_NAME, max_length=MAX_NAME_LENGTH)
    type: IndicatorType
    params: dict[str, _ParamValue] = Field(default_factory=dict, max_length=MAX_PARAMS)

    @model_validator(mode="after")
    def _check_params(self) -> IndicatorSpec:
        try:
            checked_params(self.type, self.params)
        except ParameterError as exc:
            # The parameter's name travels in the context, so a strategy file's error can
            # point at ``indicators[1].params.period`` and its line.
            raise PydanticCustomError(
                "indicator_param",
                "{message}",
                {
                    "message": f"indicator {self.name!r} ({self.type}): {exc.problem}",
                    "param": exc.param,
                    "indicator": self.name,
                },
            ) from None
        return self


class FuzzySetSpec(_Strict):
    """A fuzzy set over an indicator's value: triangular (3 points) or trapezoid (4 points)."""

    name: str = Field(pattern=_NAME, max_length=MAX_NAME_LENGTH)
    shape: Literal["triangular", "trapezoid"]
    points: list[float] = Field(max_length=4)

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

    indicator: str = Field(max_length=MAX_NAME_LENGTH)
    sets: list[FuzzySetSpec] = Field(min_length=1, max_length=MAX_FUZZY_SETS)


class ModelSpec(_Strict):
    """The network and how it is trained.

    With ``patience`` set, training stops early once that many epochs pass without the
    validation loss beating its best by more than ``min_delta``, and the best epoch's weights
    are the model kept. ``patience: null`` (the default for a strategy file, so a training
    does what it says) runs every one of ``epochs`` and keeps the last epoch's weights.
    Research cycles set a patience of their own (``ktrdr agent trigger --patience``).
    """

    hidden_layers: list[int] = Field(
        default_factory=lambda: [32, 16], min_length=1, max_length=MAX_HIDDEN_LAYERS
    )
    epochs: int = Field(default=60, ge=1, le=MAX_EPOCHS)
    patience: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)
    min_delta: float = Field(default=0.0, ge=0, le=1)
    learning_rate: float = Field(default=1e-3, gt=0, le=1)
    batch_size: int = Field(default=64, ge=1, le=MAX_BATCH_SIZE)
    l2: float = Field(default=1e-4, ge=0, le=10)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)

    @field_validator("hidden_layers")
    @classmethod
    def _positive_layers(cls, v: list[int]) -> list[int]:
        if any(n < 1 or n > MAX_LAYER_UNITS for n in v):
            raise ValueError(f"hidden layer sizes must be between 1 and {MAX_LAYER_UNITS:,}")
        return v


class LabelSpec(_Strict):
    """buy when the forward return over ``horizon`` bars exceeds ``threshold``; sell below -it."""

    horizon: int = Field(default=5, ge=1, le=500)
    threshold: float = Field(default=0.01, gt=0, lt=1)


class BacktestSpec(_Strict):
    mode: Literal["long_flat", "long_short"] = "long_flat"
    commission: float = Field(default=0.0005, ge=0, lt=0.1)  # fraction of traded notional
    slippage: float = Field(default=0.0005, ge=0, lt=0.1)  # fraction of price, per side
    initial_capital: float = Field(default=100_000.0, gt=0, le=MAX_INITIAL_CAPITAL)


class DataSpec(_Strict):
    """Which bars: training uses [train_start, train_end], the backtest [test_start, test_end].

    The last ``validation_fraction`` of the training range is the validation set.
    """

    symbol: Symbol = "SP500"
    timeframe: Timeframe = "1d"
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


GridPath = Annotated[str, StringConstraints(min_length=1, max_length=MAX_GRID_PATH_LENGTH)]
GridValues = Annotated[list[GridValue], Field(min_length=1, max_length=MAX_GRID_VARIANTS)]
Grid = dict[GridPath, GridValues]
# The sections a grid's variants are made from (``walk_forward`` and ``grid`` are not).
_DESIGN_FIELDS = (
    "name",
    "description",
    "data",
    "indicators",
    "fuzzy",
    "labels",
    "model",
    "backtest",
)


class StrategyConfig(_Strict):
    """A strategy. ``walk_forward`` is how a research cycle started from it splits its series
    (a trigger's own choices win over it); ``grid`` the values a cycle compares (see
    ``ktrdr.strategies.grid``), each combination one candidate."""

    name: str = Field(pattern=_STRATEGY_NAME, max_length=MAX_STRATEGY_NAME_LENGTH)
    description: str = Field(default="", max_length=MAX_DESCRIPTION_LENGTH)
    data: DataSpec = Field(default_factory=DataSpec)
    indicators: list[IndicatorSpec] = Field(min_length=1, max_length=MAX_INDICATORS)
    fuzzy: list[FuzzyFeatureSpec] = Field(default_factory=list, max_length=MAX_INDICATORS)
    labels: LabelSpec = Field(default_factory=LabelSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    backtest: BacktestSpec = Field(default_factory=BacktestSpec)
    # Declared last: the grid's check reads every field above (validated in this order).
    walk_forward: WalkForwardSpec | None = None
    grid: Grid | None = Field(default=None, max_length=MAX_GRID_PATHS)

    @field_validator("grid")
    @classmethod
    def _check_grid(cls, grid: Grid | None, info: ValidationInfo) -> Grid | None:
        if not grid:
            return None  # ``grid: {}`` varies nothing: the strategy itself
        design = info.data
        fields = None
        if all(key in design for key in _DESIGN_FIELDS):
            base = cls.model_construct(**{key: design[key] for key in _DESIGN_FIELDS})
            fields = base.model_dump()
        try:
            check_grid(grid, fields, cls.model_validate)
        except GridError as exc:
            # The path travels in the context, like an indicator parameter's name.
            raise PydanticCustomError(
                "grid", "{message}", {"message": str(exc), "path": exc.path or ""}
            ) from None
        return grid

    @model_serializer(mode="wrap")
    def _research_settings_as_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave out the research settings a strategy does not have, and keep only the
        ``walk_forward`` fields it sets: a trigger fills the rest with the backend's
        defaults, and a strategy sent on as data (the CLI sends a file's fields) must mean
        the same thereafter. A strategy without them dumps as it did before they existed."""
        found: dict[str, Any] = handler(self)
        for key in ("walk_forward", "grid"):
            if found.get(key) is None:
                found.pop(key, None)
        if self.walk_forward is not None and "walk_forward" in found:
            found["walk_forward"] = self.walk_forward.model_dump(exclude_unset=True)
        return found

    @model_validator(mode="after")
    def _references(self) -> StrategyConfig:
        names = [i.name for i in self.indicators]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"indicator names must be unique, repeated: {', '.join(dupes)}")
        for f in self.fuzzy:
            if f.indicator not in names:
                raise ValueError(f"fuzzy sets refer to unknown indicator {excerpt(f.indicator)}")
            set_names = [s.name for s in f.sets]
            if len(set(set_names)) != len(set_names):
                raise ValueError(f"fuzzy set names for {f.indicator!r} must be unique")
        repeated = _repeated(_feature_columns(self))
        if repeated:
            raise ValueError(_clash_message(self.name, repeated))
        return self


def _feature_columns(strategy: StrategyConfig) -> list[str]:
    fuzzified = {feature.indicator for feature in strategy.fuzzy}
    names = [f"{f.indicator}_{s.name}" for f in strategy.fuzzy for s in f.sets]
    return names + [spec.name for spec in strategy.indicators if spec.name not in fuzzified]


def _repeated(names: list[str]) -> list[str]:
    return sorted({name for name in names if names.count(name) > 1})


def _clash_message(strategy_name: str, repeated: list[str]) -> str:
    return (
        f"strategy {strategy_name!r} produces repeated feature names: {', '.join(repeated)}"
        " (rename an indicator or a fuzzy set)"
    )


def indicator_params(spec: IndicatorSpec) -> Params:
    """The spec's params merged over the defaults, checked (``StrategyValidationError``)."""
    try:
        return checked_params(spec.type, spec.params)
    except ParameterError as exc:
        raise StrategyValidationError(
            f"indicator {spec.name!r} ({spec.type}): {exc.problem}",
            details={"indicator": spec.name, "type": spec.type, "param": exc.param},
        ) from None


def feature_names(strategy: StrategyConfig) -> list[str]:
    """The feature columns a strategy produces, in order: one per fuzzy set
    (``<indicator>_<set>``), then every indicator without fuzzy sets under its own name.

    A validated strategy passes these checks already; they are repeated for configs built
    without validation (``model_construct``).
    """
    for spec in strategy.indicators:
        indicator_params(spec)
    names = _feature_columns(strategy)
    repeated = _repeated(names)
    if repeated:
        raise StrategyValidationError(
            _clash_message(strategy.name, repeated), details={"features": repeated}
        )
    return names


def check_training_size(strategy: StrategyConfig, training_rows: int) -> None:
    """Refuse a training whose epochs x rows exceed ``MAX_SAMPLE_EPOCHS``.

    The rows are known only once the strategy's training range is loaded, so the caller
    that loads those bars (before the training becomes an operation) passes their count,
    an upper bound on the rows the model will see.
    """
    cost = strategy.model.epochs * training_rows
    if cost > MAX_SAMPLE_EPOCHS:
        most = max(MAX_SAMPLE_EPOCHS // max(training_rows, 1), 1)
        raise StrategyValidationError(
            f"model.epochs: {strategy.model.epochs:,} epochs over {training_rows:,} training "
            f"rows is more than one training may do ({MAX_SAMPLE_EPOCHS:,} row-epochs); use "
            f"at most {most:,} epochs or a shorter training range",
            details={
                "field": "model.epochs",
                "epochs": strategy.model.epochs,
                "rows": training_rows,
                "max_sample_epochs": MAX_SAMPLE_EPOCHS,
            },
        )
