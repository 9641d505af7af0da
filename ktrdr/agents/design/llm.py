"""The optional LLM designer (Claude through the anthropic SDK), and designer selection.

Without ANTHROPIC_API_KEY, asking for an LLM model is an error, never a silent fallback to
the built-in designer. The key is passed to the SDK only; it is never logged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ValidationError

from ktrdr.agents.design.base import DesignRequest, StrategyDesigner
from ktrdr.agents.design.builtin import BuiltinDesigner
from ktrdr.errors import (
    ConfigurationError,
    InvalidRequestError,
    JobFailedError,
    StrategyValidationError,
)
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.models import utcnow
from ktrdr.strategies.models import StrategyConfig

LlmModel = Literal["haiku", "sonnet", "opus"]
LLM_MODELS: dict[str, str] = {
    "haiku": "claude-haiku-4-5",
    "sonnet": "claude-sonnet-4-5",
    "opus": "claude-opus-4-5",
}

_PROMPT = """You design trading strategies for ktrdr. Reply with ONE JSON object only, no prose.
Schema (all keys required unless marked optional):
{{"name": "snake_case_name_{date}", "description": "...",
 "data": {{"symbol": "{symbol}", "timeframe": "{timeframe}"}},
 "indicators": [{{"name": "rsi", "type": "rsi", "params": {{"period": 14}}}}, ...],
 "fuzzy": [{{"indicator": "rsi", "sets": [{{"name": "low", "shape": "trapezoid",
            "points": [0, 0, 30, 40]}}, ...]}}],
 "labels": {{"horizon": 5, "threshold": 0.01}},
 "model": {{"hidden_layers": [32, 16], "epochs": 200, "learning_rate": 0.001,
           "batch_size": 64, "seed": {seed}}},
 "backtest": {{"mode": "long_flat"}}}}
Indicator types and params: rsi(period) 0..100; sma_cross(fast, slow) and ema_cross(fast,
slow) ~ -0.1..0.1; macd(fast, slow, signal) ~ -0.01..0.01; bollinger(period, k) position
~0..1; atr(period) as a fraction of price ~0.005..0.05; returns(period), momentum(period)
~ -0.1..0.1. Fuzzy shapes: triangular (3 non-decreasing points) or trapezoid (4).
Use 2-4 indicators, epochs 50-400, mode long_flat or long_short. Seed: {seed}."""


def _first_json_object(text: str) -> dict[str, Any]:
    start = text.find("{")
    while start != -1:
        depth = 0
        for end in range(start, len(text)):
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    try:
                        value = json.loads(text[start : end + 1])
                    except json.JSONDecodeError:
                        break
                    if isinstance(value, dict):
                        return value
                    break
        start = text.find("{", start + 1)
    raise StrategyValidationError("The designer's reply holds no JSON strategy object")


class LlmDesigner:
    def __init__(
        self,
        model: LlmModel,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 60.0,
        model_ids: Mapping[str, str] | None = None,
    ) -> None:
        self.model = model
        self.model_id = (model_ids or LLM_MODELS)[model]
        self.name = f"llm:{model}"
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout

    def design(self, request: DesignRequest, token: CancellationToken) -> StrategyConfig:
        import anthropic

        now = request.now or utcnow()
        prompt = _PROMPT.format(
            date=f"{now:%Y%m%d}",
            symbol=(request.symbol or "SP500").upper(),
            timeframe=request.timeframe or "1d",
            seed=request.seed,
        )
        client = anthropic.Anthropic(
            api_key=self._api_key, base_url=self._base_url, timeout=self._timeout, max_retries=0
        )
        try:
            reply = client.messages.create(
                model=self.model_id,
                max_tokens=2000,
                messages=[{"role": "user", "content": prompt}],
            )
        except anthropic.APIError as exc:
            raise JobFailedError(f"LLM designer call failed: {type(exc).__name__}") from None
        finally:
            client.close()
        token.raise_if_cancelled(where="Stopped while designing the strategy")
        text = "".join(getattr(block, "text", "") for block in reply.content)
        raw = _first_json_object(text)
        if request.epochs is not None:
            raw["model"] = {**dict(raw.get("model") or {}), "epochs": request.epochs}
        try:
            return StrategyConfig.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise StrategyValidationError(
                f"The designer's strategy is invalid: {where}: {first.get('msg')}",
                details={"field": where},
            ) from None


def make_designer(model: str | None, *, env: Mapping[str, str]) -> StrategyDesigner:
    if model is None:
        return BuiltinDesigner()
    if model not in LLM_MODELS:
        raise InvalidRequestError(
            f"Unknown designer model {model!r}; choose one of: {', '.join(LLM_MODELS)}",
            details={"field": "model"},
        )
    key = env.get("ANTHROPIC_API_KEY", "").strip()
    if not key:
        raise ConfigurationError(
            f"-m {model} needs ANTHROPIC_API_KEY in the backend's environment; "
            "omit -m to use the built-in offline designer"
        )
    ids = {
        name: env.get(f"KTRDR_LLM_MODEL_{name.upper()}", default)
        for name, default in LLM_MODELS.items()
    }
    return LlmDesigner(
        model,  # type: ignore[arg-type]
        api_key=key,
        base_url=env.get("ANTHROPIC_BASE_URL") or None,
        model_ids=ids,
    )
