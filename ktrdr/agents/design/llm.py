"""The optional LLM designer (Claude through the anthropic SDK), and designer selection.

Asking for an LLM model without ANTHROPIC_API_KEY is an error, never a silent fallback to
the built-in designer: a researcher who asked for Claude must not get something else.
The key goes to the SDK only; it never appears in a log line or an error message.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from pydantic import SecretStr, ValidationError

from ktrdr.agents.design.base import DesignRequest, StrategyDesigner
from ktrdr.agents.design.builtin import DEFAULT_SYMBOL, DEFAULT_TIMEFRAME, BuiltinDesigner
from ktrdr.config import Settings
from ktrdr.errors import (
    ConfigurationError,
    InvalidRequestError,
    JobFailedError,
    StrategyValidationError,
)
from ktrdr.indicators import INDICATOR_DEFAULTS, feature_names
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.strategies.models import StrategyConfig

if TYPE_CHECKING:
    import anthropic

LlmModel = Literal["haiku", "sonnet", "opus"]
LLM_MODELS: dict[str, str] = {
    "haiku": "claude-haiku-4-5",
    "sonnet": "claude-sonnet-4-6",
    "opus": "claude-opus-4-6",
}
"""Short names accepted by ``-m`` and their default model ids (``KTRDR_LLM_MODEL_<NAME>``,
read into ``Settings.llm_model_<name>``, overrides one)."""

MAX_REPLY_TOKENS = 4096
# How often the caller's thread looks at the cancellation token while the reply is pending.
_CANCEL_POLL_SECONDS = 0.05

# What each indicator's values look like, so the model can place fuzzy sets where values
# actually fall. Keys must match the indicator types (a unit test holds them together).
INDICATOR_SCALES: dict[str, str] = {
    "rsi": "0 to 100; 30 and 70 are the classic oversold / overbought lines",
    "sma_cross": "(fast SMA - slow SMA) / slow SMA; mostly -0.05 to +0.05",
    "ema_cross": "(fast EMA - slow EMA) / slow EMA; mostly -0.04 to +0.04",
    "macd": "MACD histogram / close; mostly -0.01 to +0.01",
    "bollinger": "position in the band: 0 lower band, 1 upper band; overshoots to -0.4 .. 1.3",
    "atr": "average true range / close; mostly 0.005 to 0.05",
    "returns": "close[t] / close[t-period] - 1; about -0.03 to +0.03 for period 1",
    "momentum": "the same as returns, used with longer periods; about -0.15 to +0.15",
}


def _indicator_lines() -> str:
    lines = []
    for kind, defaults in INDICATOR_DEFAULTS.items():
        params = ", ".join(f"{name}={value:g}" for name, value in defaults.items())
        lines.append(f"- {kind}({params}): {INDICATOR_SCALES.get(kind, 'see its documentation')}")
    return "\n".join(lines)


SYSTEM_PROMPT = f"""\
You design trading strategies for ktrdr, a research system that turns indicators into fuzzy
features, trains a small neural network to label each bar buy / hold / sell, and backtests it
out of sample. Reply with ONE JSON object and nothing else: no prose, no code fences.

The object's keys:
- "name": lowercase letters, digits and underscores, at most 60 characters
- "description": one or two sentences on the idea
- "data": {{"symbol": ..., "timeframe": ...}} (leave the train/test dates to the defaults)
- "indicators": 2 to 4 of {{"name": unique snake_case, "type": a type below, "params": {{...}}}}
- "fuzzy": a list of {{"indicator": an indicator's name, "sets": [{{"name": snake_case,
  "shape": "triangular" (3 points) or "trapezoid" (4 points), "points": non-decreasing
  numbers on that indicator's scale}}]}}; each set becomes one model input and an
  indicator without fuzzy sets is fed to the model raw
- "labels": {{"horizon": bars ahead, 1 to 60, "threshold": a fractional move, 0.002 to
  0.08}}: buy when the forward return beats +threshold, sell when it is below -threshold
- "model": {{"hidden_layers": 1 to 3 sizes from 4 to 128, "epochs": 40 to 120,
  "learning_rate": 0.0001 to 0.01, "batch_size": 16 to 256, "l2": 0 to 0.01, "seed": int}}
- "backtest": {{"mode": "long_flat" or "long_short"}}

Indicator types, their params (defaults) and the scale of their values on daily bars:
{_indicator_lines()}
Bar counts (period, fast, slow, signal) are whole numbers >= 1, fast < slow, and no
indicator needs more than 250 bars of history. Bollinger's k is a positive number. Use
finite numbers only: for an open-ended set use a far bound such as -10 or 10."""


def _user_prompt(request: DesignRequest) -> str:
    symbol = (request.symbol or DEFAULT_SYMBOL).upper()
    timeframe = request.timeframe or DEFAULT_TIMEFRAME
    return (
        f"Design one strategy for {symbol} {timeframe} bars. Seed {request.seed}: let it steer "
        f"which idea you pick. Name it like <idea>_{request.now:%Y%m%d}_{request.seed}. "
        "Reply with the JSON object only."
    )


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object embedded in ``text`` (prose or code fences around it are fine)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _invalid(reason: str, **details: Any) -> StrategyValidationError:
    return StrategyValidationError(f"The designer's strategy is invalid: {reason}", details=details)


def _first_problem(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "strategy"
    more = exc.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return where, f"{first['msg']}{suffix}"


def strategy_from_reply(text: str, request: DesignRequest) -> StrategyConfig:
    """Parse, apply the request's overrides, and validate a designer's reply."""
    raw = first_json_object(text)
    if raw is None:
        raise _invalid("the reply holds no JSON object", reply_start=text[:200])
    data = raw.get("data")
    if data is None or isinstance(data, dict):
        # The caller's symbol / timeframe / epochs win over the model's choice.
        data = dict(data or {})
        if request.symbol:
            data["symbol"] = request.symbol.upper()
        if request.timeframe:
            data["timeframe"] = request.timeframe
        raw["data"] = data
    model = raw.get("model")
    if request.epochs is not None and (model is None or isinstance(model, dict)):
        raw["model"] = {**(model or {}), "epochs": request.epochs}
    try:
        strategy = StrategyConfig.model_validate(raw)
    except ValidationError as exc:
        where, problem = _first_problem(exc)
        raise _invalid(f"{where}: {problem}", field=where) from None
    try:
        feature_names(strategy)  # indicator params and feature-name clashes
    except StrategyValidationError as exc:
        raise _invalid(exc.message, **exc.details) from None
    return strategy


class LlmDesigner:
    """Asks Claude for a strategy as JSON and validates it like any other design."""

    def __init__(
        self,
        model: LlmModel,
        *,
        api_key: SecretStr,
        base_url: str | None = None,
        timeout: float = 60.0,
        model_id: str | None = None,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self.model_id = model_id or LLM_MODELS[model]
        self.name = f"llm:{model}"
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        self._max_retries = max_retries

    def __repr__(self) -> str:  # never show the key
        where = f", base_url={self._base_url!r}" if self._base_url else ""
        return f"LlmDesigner({self.model!r}, model_id={self.model_id!r}{where})"

    def design(self, request: DesignRequest, token: CancellationToken) -> StrategyConfig:
        token.raise_if_cancelled(where="Stopped before asking the LLM designer")
        text = self._ask(_user_prompt(request), token)
        return strategy_from_reply(text, request)

    def _ask(self, prompt: str, token: CancellationToken) -> str:
        """The reply text; the call runs on its own thread so a cancel is not held up by it.

        After a cancel the abandoned call finishes (at most ``timeout`` later) on its
        thread, which closes its own client.
        """
        outcome: list[str | BaseException] = []
        done = threading.Event()

        def call() -> None:
            try:
                outcome.append(self._call(prompt))
            except BaseException as exc:  # handed to the caller's thread below
                outcome.append(exc)
            finally:
                done.set()

        threading.Thread(target=call, name=f"llm-designer-{self.model}", daemon=True).start()
        while not done.wait(_CANCEL_POLL_SECONDS):
            token.raise_if_cancelled(where="Stopped while waiting for the LLM designer")
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _call(self, prompt: str) -> str:
        try:
            import anthropic
        except ImportError:
            raise ConfigurationError(_missing_sdk(self.model)) from None
        try:
            with anthropic.Anthropic(
                api_key=self._api_key.get_secret_value(),
                base_url=self._base_url,
                timeout=self._timeout,
                max_retries=self._max_retries,
            ) as client:
                reply = client.messages.create(
                    model=self.model_id,
                    max_tokens=MAX_REPLY_TOKENS,
                    system=SYSTEM_PROMPT,
                    messages=[{"role": "user", "content": prompt}],
                )
        except anthropic.APIError as exc:
            raise JobFailedError(
                self._scrub(f"LLM designer call failed: {self._describe(exc)}"),
                details={"model_id": self.model_id},
            ) from None
        except Exception as exc:  # e.g. a malformed base URL: still the designer's failure
            raise JobFailedError(
                self._scrub(f"LLM designer call failed: {type(exc).__name__}: {exc}"),
                details={"model_id": self.model_id},
            ) from None
        text = "".join(block.text for block in reply.content if block.type == "text")
        if reply.stop_reason == "max_tokens" and first_json_object(text) is None:
            raise _invalid(f"the reply was cut off after {MAX_REPLY_TOKENS} tokens")
        return text

    def _describe(self, exc: anthropic.APIError) -> str:
        import anthropic

        if isinstance(exc, anthropic.APITimeoutError):
            return f"no reply from {self.model_id} within {self._timeout:g} s"
        if isinstance(exc, anthropic.APIConnectionError):
            where = self._base_url or "the Anthropic API"
            return f"cannot reach {where} ({exc.__cause__ or exc})"
        if isinstance(exc, anthropic.APIStatusError):
            detail = exc.message
            body = exc.body
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                detail = str(body["error"].get("message") or detail)
            return f"HTTP {exc.status_code} from {self.model_id}: {detail}"
        return f"{type(exc).__name__}: {exc}"

    def _scrub(self, message: str) -> str:
        key = self._api_key.get_secret_value()
        return message.replace(key, "<ANTHROPIC_API_KEY>") if key else message


def _missing_sdk(model: str) -> str:
    return f"-m {model} needs the anthropic package: pip install 'ktrdr[llm]'"


def _is_llm_model(name: str) -> TypeGuard[LlmModel]:
    return name in LLM_MODELS


def model_id_for(model: LlmModel, settings: Settings) -> str:
    """The model id for a short name: ``KTRDR_LLM_MODEL_<NAME>`` if set, else the default."""
    configured = {
        "haiku": settings.llm_model_haiku,
        "sonnet": settings.llm_model_sonnet,
        "opus": settings.llm_model_opus,
    }[model]
    return (configured or "").strip() or LLM_MODELS[model]


def _usable_key(key: SecretStr | None) -> SecretStr | None:
    """The key without surrounding blanks; a blank one counts as missing."""
    value = key.get_secret_value().strip() if key is not None else ""
    return SecretStr(value) if value else None


def make_designer(model: str | None, settings: Settings) -> StrategyDesigner:
    """The designer for ``-m``: ``None`` is the built-in one, a short name is Claude."""
    if model is None:
        return BuiltinDesigner()
    name = model.strip().lower()
    if not _is_llm_model(name):
        choices = ", ".join(LLM_MODELS)
        raise InvalidRequestError(
            f"Unknown designer model {model!r}; choose one of: {choices} "
            "(or leave -m out for the built-in designer)",
            details={"field": "model", "choices": list(LLM_MODELS)},
        )
    key = _usable_key(settings.anthropic_api_key)
    if key is None:
        raise ConfigurationError(
            f"-m {name} needs ANTHROPIC_API_KEY; set it in the backend's environment, "
            "or leave -m out to use the built-in offline designer",
            details={"missing": "ANTHROPIC_API_KEY"},
        )
    if importlib.util.find_spec("anthropic") is None:
        raise ConfigurationError(_missing_sdk(name), details={"missing": "anthropic"})
    return LlmDesigner(
        name,
        api_key=key,
        base_url=(settings.anthropic_base_url or "").strip() or None,
        model_id=model_id_for(name, settings),
    )
