"""What callers send the API: every start, trigger and import body, every string in it
bounded and checked.

The API validates request bodies with these models and the client builds them, so a
field, a bound or a message is written once; the jobs layer takes them as they are."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ktrdr.data.series_names import Symbol, Timeframe
from ktrdr.errors import InvalidRequestError
from ktrdr.strategies.models import MAX_EPOCHS

# --- request limits: every string a caller sends is bounded and checked here --------------
MAX_PATH_LENGTH = 1_024
MAX_FILENAME_LENGTH = 255  # also the longest path component most filesystems take
# A strategy has eight sections; a mapping with far more keys is refused before it is read.
MAX_STRATEGY_CONFIG_KEYS = 32
MAX_AGENT_SEED = 2**31 - 1
MAX_BATCH_SIZE = 64  # as many as `--count` starts
# The dates a market series can hold. Beyond them a date is a typo; at the calendar's own
# edge (9999-12-31) "the day after" cannot even be computed, which was a 500.
EARLIEST_MARKET_DATE = date(1800, 1, 1)
LATEST_MARKET_DATE = date(2200, 12, 31)


def _no_control_characters(value: str) -> str:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("must not contain control characters (NUL, newline, escape, ...)")
    return value


def _path_like(value: str) -> str:
    _no_control_characters(value)
    parts = value.replace("\\", "/").split("/")
    if any(len(part) > MAX_FILENAME_LENGTH for part in parts):
        raise ValueError(f"each part of a path must be at most {MAX_FILENAME_LENGTH} characters")
    return value


def _file_name(value: str) -> str:
    _no_control_characters(value)
    if value in (".", "..") or "/" in value or "\\" in value:
        raise ValueError("must be a file name, not '.', '..' or a path")
    return value


# A name or a path the caller gives: not empty, bounded, no control characters.
PathText = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_PATH_LENGTH), AfterValidator(_path_like)
]
FileName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_FILENAME_LENGTH),
    AfterValidator(_file_name),
]
MarketDate = Annotated[date, Field(ge=EARLIEST_MARKET_DATE, le=LATEST_MARKET_DATE)]
BatchId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def check_market_date(field: str, value: date | None) -> None:
    """``InvalidRequestError`` naming ``field`` when ``value`` is outside the dates a market
    series can hold: for dates that reach a job by another way than a request's own fields
    (a strategy's ``data`` section, a trained model's strategy)."""
    if value is not None and not EARLIEST_MARKET_DATE <= value <= LATEST_MARKET_DATE:
        raise InvalidRequestError(
            f"{field} {value.isoformat()} is outside the dates a market series can hold "
            f"({EARLIEST_MARKET_DATE.isoformat()} to {LATEST_MARKET_DATE.isoformat()})",
            details={"field": field},
        )


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


R = TypeVar("R", bound=_Request)
# How many of a refused request's problems its message names (the API lists more).
_NAMED_PROBLEMS = 3


def checked(request_type: type[R], /, **fields: Any) -> R:
    """``request_type`` built from ``fields``, or an ``InvalidRequestError`` naming the fields
    that are wrong (never their values): what a client checks before it sends."""
    try:
        return request_type.model_validate(fields)
    except ValidationError as exc:
        problems = exc.errors()
        named = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: "
            f"{str(e.get('msg', '')).removeprefix('Value error, ')}"
            for e in problems[:_NAMED_PROBLEMS]
        )
        more = len(problems) - min(len(problems), _NAMED_PROBLEMS)
        raise InvalidRequestError(
            f"Invalid request: {named}" + (f" (and {more:,} more)" if more else ""),
            details={"field": ".".join(str(p) for p in problems[0].get("loc", ()))},
        ) from None


class TrainingStartRequest(_Request):
    strategy: PathText | None = Field(
        default=None,
        description="Name of a shipped example or of a file in the data dir's strategies folder",
    )
    strategy_config: dict[str, Any] | None = Field(
        default=None,
        max_length=MAX_STRATEGY_CONFIG_KEYS,
        description="A full strategy definition (instead of `strategy`)",
    )
    symbol: Symbol | None = None
    timeframe: Timeframe | None = None
    epochs: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)
    train_start: MarketDate | None = None
    train_end: MarketDate | None = None


class BacktestStartRequest(_Request):
    model: PathText = Field(description="A model directory, or a strategy name (its newest model)")
    symbol: Symbol | None = None
    timeframe: Timeframe | None = None
    start_date: MarketDate | None = None
    end_date: MarketDate | None = None
    mode: Literal["long_flat", "long_short"] | None = None
    commission: float | None = Field(default=None, ge=0, lt=0.1)
    slippage: float | None = Field(default=None, ge=0, lt=0.1)


class AgentTriggerRequest(_Request):
    model: Literal["haiku", "sonnet", "opus"] | None = Field(
        default=None, description="LLM designer; omitted = the built-in offline designer"
    )
    strategy: PathText | None = Field(
        default=None,
        description="Start from this strategy instead of a designer's: a shipped example or "
        "a file in the data dir's strategies folder; its grid's variants are the candidates "
        "and its walk_forward settings apply where this request gives none",
    )
    strategy_config: dict[str, Any] | None = Field(
        default=None,
        max_length=MAX_STRATEGY_CONFIG_KEYS,
        description="A full strategy definition (instead of `strategy`)",
    )
    seed: int | None = Field(default=None, ge=0, le=MAX_AGENT_SEED)
    symbol: Symbol | None = None
    timeframe: Timeframe | None = None
    epochs: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)
    folds: int | None = Field(
        default=None,
        ge=0,
        le=20,
        description="walk-forward folds (0: the classic single split); default "
        "KTRDR_RESEARCH_FOLDS",
    )
    candidates: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="candidate designs, each walk-forwarded; default KTRDR_RESEARCH_CANDIDATES "
        "(with a strategy: its grid's variants, and only that number is accepted)",
    )
    walk_forward_mode: Literal["anchored", "rolling"] | None = None
    holdout_fraction: float | None = Field(default=None, gt=0, lt=0.5)
    purge_bars: int | None = Field(
        default=None, ge=0, le=500, description="default: the label horizon"
    )
    patience: int | None = Field(
        default=None,
        ge=0,
        le=MAX_EPOCHS,
        description="early stopping patience in epochs (0: off); default KTRDR_RESEARCH_PATIENCE",
    )
    # `agent trigger --count N` gives each of its cycles the same batch id and N, so the
    # backend knows when the whole batch has ended (a webhook announces it: ktrdr.notify).
    batch_id: BatchId | None = Field(
        default=None, description="the batch this cycle belongs to (with batch_size)"
    )
    batch_size: int | None = Field(
        default=None, ge=1, le=MAX_BATCH_SIZE, description="how many cycles the batch has"
    )

    @model_validator(mode="after")
    def _whole_batch(self) -> AgentTriggerRequest:
        if (self.batch_id is None) != (self.batch_size is None):
            raise ValueError("batch_id and batch_size are given together or not at all")
        return self


class DataImportRequest(_Request):
    symbol: Symbol
    timeframe: Timeframe
    csv_text: str = Field(description="The CSV file's content (KTRDR_MAX_IMPORT_BYTES)")
    filename: FileName = Field(
        default="upload.csv", description="Its file name, used in error messages"
    )
