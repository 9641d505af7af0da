"""The LLM designer against a fake Anthropic Messages API on 127.0.0.1 (never the internet).

The fake is a small FastAPI app under uvicorn on a thread, speaking the Messages API
response shape, so the real ``anthropic`` SDK, its HTTP client and its error mapping all
run for real.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from ktrdr.agents.design.base import DesignRequest
from ktrdr.agents.design.builtin import BuiltinDesigner
from ktrdr.agents.design.llm import (
    INDICATOR_SCALES,
    LLM_MODELS,
    SYSTEM_PROMPT,
    LlmDesigner,
    first_json_object,
    make_designer,
)
from ktrdr.config import Settings, load_settings
from ktrdr.errors import (
    ConfigurationError,
    InvalidRequestError,
    JobFailedError,
    StrategyValidationError,
)
from ktrdr.indicators import INDICATOR_DEFAULTS
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from tests.support.waiting import wait_until

NOW = datetime(2026, 11, 25, tzinfo=UTC)
KEY = "sk-test-not-a-real-key"
CLAUDE_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "KTRDR_LLM_MODEL_HAIKU",
    "KTRDR_LLM_MODEL_SONNET",
    "KTRDR_LLM_MODEL_OPUS",
)

IDEA: dict[str, Any] = {
    "name": "llm_rsi_bounce",
    "description": "Oversold RSI with a low Bollinger position tends to bounce.",
    "data": {"symbol": "SP500", "timeframe": "1d"},
    "indicators": [
        {"name": "rsi", "type": "rsi", "params": {"period": 14}},
        {"name": "bb", "type": "bollinger", "params": {"period": 20, "k": 2}},
    ],
    "fuzzy": [
        {
            "indicator": "rsi",
            "sets": [
                {"name": "low", "shape": "trapezoid", "points": [0, 0, 30, 40]},
                {"name": "high", "shape": "trapezoid", "points": [60, 70, 100, 100]},
            ],
        }
    ],
    "labels": {"horizon": 5, "threshold": 0.01},
    "model": {"hidden_layers": [32, 16], "epochs": 80, "learning_rate": 0.001},
    "backtest": {"mode": "long_flat"},
}


@dataclass
class FakeAnthropic:
    """What the fake server answers, and every request it received."""

    url: str = ""
    reply_text: str = ""
    status: int = 200
    stop_reason: str = "end_turn"
    hold: bool = False  # keep the reply back until ``release`` is set
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[dict[str, Any]] = field(default_factory=list)


def _fake_app(fake: FakeAnthropic) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/messages")
    async def messages(request: Request) -> JSONResponse:
        body = await request.json()
        fake.requests.append(
            {"path": request.url.path, "headers": dict(request.headers), "body": body}
        )
        while fake.hold and not fake.release.is_set():
            await asyncio.sleep(0.02)
        if fake.status != 200:
            error = {"type": "api_error", "message": "the fake is overloaded"}
            return JSONResponse({"type": "error", "error": error}, status_code=fake.status)
        return JSONResponse(
            {
                "id": f"msg_{len(fake.requests)}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": fake.reply_text}],
                "stop_reason": fake.stop_reason,
                "stop_sequence": None,
                "usage": {"input_tokens": 321, "output_tokens": 123},
            }
        )

    return app


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    fake.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    config = uvicorn.Config(
        _fake_app(fake), log_config=None, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started, 10), "the fake Anthropic server did not start"
    try:
        yield fake
    finally:
        fake.release.set()
        server.should_exit = True
        thread.join(10)
        listener.close()


@pytest.fixture
def fake_api(fake_server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    """The shared fake server, answering 200 with an empty reply until a test says otherwise."""
    yield fake_server
    fake_server.release.set()
    # A cancelled design leaves its call to finish on its own thread: wait for it.
    for t in threading.enumerate():
        if t.name.startswith("llm-designer"):
            t.join(10)
    fresh = FakeAnthropic(url=fake_server.url)
    for name in ("reply_text", "status", "stop_reason", "hold", "release", "requests"):
        setattr(fake_server, name, getattr(fresh, name))


def carried_key(headers: dict[str, str]) -> str | None:
    """The API key a request carried: the Messages API's ``x-api-key`` header, or the bearer
    token that anthropic SDK 2.x sends instead."""
    if "x-api-key" in headers:
        return headers["x-api-key"]
    return headers.get("authorization", "").removeprefix("Bearer ") or None


def designer(fake: FakeAnthropic, **kw: Any) -> LlmDesigner:
    return LlmDesigner("haiku", api_key=SecretStr(KEY), base_url=fake.url, max_retries=0, **kw)


def settings_from(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    """Settings whose Claude fields come from exactly these variables."""
    for name in CLAUDE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def request(**kw: Any) -> DesignRequest:
    return DesignRequest(seed=kw.pop("seed", 9), now=NOW, **kw)


# ----------------------------------------------------------------------------- happy path


def test_a_valid_reply_becomes_a_strategy_and_the_request_is_right(
    fake_api: FakeAnthropic,
) -> None:
    fake_api.reply_text = f"Here is my idea:\n```json\n{json.dumps(IDEA)}\n```\nGood luck {{:"
    strategy = designer(fake_api).design(request(), CancellationToken())

    assert strategy.name == "llm_rsi_bounce"
    assert [i.type for i in strategy.indicators] == ["rsi", "bollinger"]
    (sent,) = fake_api.requests
    assert sent["path"] == "/v1/messages"
    assert carried_key(sent["headers"]) == KEY
    assert sent["body"]["model"] == LLM_MODELS["haiku"] == "claude-haiku-4-5"
    prompt = sent["body"]["messages"][0]["content"]
    assert "JSON" in prompt and "Seed 9" in prompt and "SP500 1d" in prompt
    assert "_20261125_9" in prompt
    for kind in INDICATOR_DEFAULTS:
        assert kind in sent["body"]["system"]


def test_the_requests_overrides_win_over_the_reply(fake_api: FakeAnthropic) -> None:
    fake_api.reply_text = json.dumps(IDEA)
    strategy = designer(fake_api).design(
        request(symbol="nasdaq", timeframe="1d", epochs=12), CancellationToken()
    )
    assert (strategy.data.symbol, strategy.model.epochs) == ("NASDAQ", 12)
    assert "NASDAQ 1d" in fake_api.requests[0]["body"]["messages"][0]["content"]


def test_the_model_id_can_be_overridden(
    fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_api.reply_text = json.dumps(IDEA)
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": fake_api.url,
        "KTRDR_LLM_MODEL_SONNET": "claude-sonnet-test",
    }
    chosen = make_designer("sonnet", settings_from(monkeypatch, env))
    assert isinstance(chosen, LlmDesigner) and chosen.name == "llm:sonnet"
    chosen.design(request(), CancellationToken())  # reaches the fake: base_url from env
    assert fake_api.requests[0]["body"]["model"] == "claude-sonnet-test"


# ----------------------------------------------------------------------------- bad replies


def test_an_invalid_strategy_is_refused_naming_the_field(fake_api: FakeAnthropic) -> None:
    bad = {**IDEA, "indicators": [{"name": "x", "type": "astrology", "params": {}}]}
    fake_api.reply_text = json.dumps(bad)
    with pytest.raises(StrategyValidationError) as info:
        designer(fake_api).design(request(), CancellationToken())
    assert info.value.message.startswith("The designer's strategy is invalid: indicators.0.type")
    assert info.value.details["field"] == "indicators.0.type"


def test_unusable_indicator_params_are_refused(fake_api: FakeAnthropic) -> None:
    bad = {**IDEA, "indicators": [{"name": "x", "type": "sma_cross", "params": {"fast": 50}}]}
    fake_api.reply_text = json.dumps({**bad, "fuzzy": []})
    with pytest.raises(StrategyValidationError) as info:
        designer(fake_api).design(request(), CancellationToken())
    assert "The designer's strategy is invalid" in info.value.message
    assert "fast (50) must be shorter than slow (30)" in info.value.message


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        ("I would rather not design a strategy today.", "no JSON object"),
        ('{"name": "cut_off", "indicators": [', "no JSON object"),
        ("[1, 2, 3]", "no JSON object"),
        ('{"name": "x"}', "indicators: Field required"),
    ],
)
def test_replies_without_a_usable_object_are_refused(
    fake_api: FakeAnthropic, reply: str, needle: str
) -> None:
    fake_api.reply_text = reply
    with pytest.raises(StrategyValidationError) as info:
        designer(fake_api).design(request(), CancellationToken())
    assert needle in info.value.message


def test_a_reply_cut_off_at_max_tokens_says_so(fake_api: FakeAnthropic) -> None:
    fake_api.reply_text = '{"name": "long_story", "description": "'
    fake_api.stop_reason = "max_tokens"
    with pytest.raises(StrategyValidationError, match="cut off"):
        designer(fake_api).design(request(), CancellationToken())


# ----------------------------------------------------------------------------- failures


def test_an_http_500_is_a_failed_job_without_the_key(fake_api: FakeAnthropic) -> None:
    fake_api.status = 500
    with pytest.raises(JobFailedError) as info:
        designer(fake_api).design(request(), CancellationToken())
    message = info.value.message
    assert message.startswith("LLM designer call failed: HTTP 500")
    assert "the fake is overloaded" in message
    assert KEY not in message and KEY not in repr(designer(fake_api))
    assert len(fake_api.requests) == 1  # max_retries=0


def test_an_unreachable_server_is_a_failed_job() -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = LlmDesigner(
        "haiku", api_key=SecretStr(KEY), base_url=f"http://127.0.0.1:{port}", max_retries=0
    )
    with pytest.raises(JobFailedError, match="LLM designer call failed: cannot reach"):
        llm.design(request(), CancellationToken())


def test_a_slow_reply_times_out_as_a_failed_job(fake_api: FakeAnthropic) -> None:
    fake_api.hold = True
    with pytest.raises(JobFailedError, match="no reply from claude-haiku-4-5 within 0.3 s"):
        designer(fake_api, timeout=0.3).design(request(), CancellationToken())


def test_a_cancel_stops_the_wait_at_once(fake_api: FakeAnthropic) -> None:
    fake_api.hold = True
    fake_api.reply_text = json.dumps(IDEA)
    token = CancellationToken()
    timer = threading.Timer(0.2, token.cancel)
    timer.start()
    started = time.monotonic()
    with pytest.raises(CancellationRequested) as info:
        designer(fake_api).design(request(), token)
    assert time.monotonic() - started < 1.5
    assert "LLM designer" in info.value.where
    timer.join()


# ----------------------------------------------------------------------------- selection


def test_no_model_means_the_builtin_designer(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_designer(None, settings_from(monkeypatch, {})), BuiltinDesigner)


@pytest.mark.parametrize("key", [None, "", "   "])
def test_an_llm_without_a_key_is_a_configuration_error(
    key: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {} if key is None else {"ANTHROPIC_API_KEY": key}
    with pytest.raises(ConfigurationError) as info:
        make_designer("haiku", settings_from(monkeypatch, env))
    assert info.value.message.startswith("-m haiku needs ANTHROPIC_API_KEY")


def test_an_unknown_model_lists_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidRequestError) as info:
        make_designer("gpt-4", settings_from(monkeypatch, {"ANTHROPIC_API_KEY": KEY}))
    assert "haiku, sonnet, opus" in info.value.message
    assert info.value.details["choices"] == ["haiku", "sonnet", "opus"]


def test_model_names_are_case_insensitive_and_default_ids_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = make_designer(" Opus ", settings_from(monkeypatch, {"ANTHROPIC_API_KEY": KEY}))
    assert isinstance(chosen, LlmDesigner)
    assert (chosen.name, chosen.model_id) == ("llm:opus", "claude-opus-4-6")


# ----------------------------------------------------------------------------- helpers


def test_the_prompt_describes_every_indicator_type() -> None:
    assert set(INDICATOR_SCALES) == set(INDICATOR_DEFAULTS)
    assert "see its documentation" not in SYSTEM_PROMPT


def test_the_first_json_object_is_found_in_prose() -> None:
    assert first_json_object('ok: {"a": {"b": "}"}} then {"c": 1}') == {"a": {"b": "}"}}
    assert first_json_object('{broken {"x": 2}') == {"x": 2}
    assert first_json_object("no object here") is None
