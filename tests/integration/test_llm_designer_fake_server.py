"""The Claude designer path against a local fake Messages API server (never the internet)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from ktrdr.agents.design.base import DesignRequest
from ktrdr.agents.design.llm import LlmDesigner
from ktrdr.errors import JobFailedError, StrategyValidationError
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.strategies.loader import load_strategy
from tests.conftest import BackendFactory

GOOD = load_strategy("rsi_mean_reversion").model_dump(mode="json")
GOOD["name"] = "llm_rsi_idea"


@dataclass
class FakeClaude:
    reply_text: str = ""
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def _handler(fake: FakeClaude) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            fake.requests.append(
                {
                    "path": self.path,
                    # SDK versions send the key as x-api-key or as a bearer token.
                    "api_key": self.headers.get("x-api-key")
                    or (self.headers.get("authorization") or "").removeprefix("Bearer "),
                    "body": body,
                }
            )
            if fake.status != 200:
                payload: dict[str, Any] = {
                    "type": "error",
                    "error": {"type": "api_error", "message": "overloaded"},
                }
            else:
                payload = {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": fake.reply_text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 10, "output_tokens": 10},
                }
            raw = json.dumps(payload).encode()
            self.send_response(fake.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    return Handler


@pytest.fixture
def fake_claude() -> Iterator[FakeClaude]:
    fake = FakeClaude()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


def _design(fake: FakeClaude) -> object:
    designer = LlmDesigner("haiku", api_key="test-key", base_url=fake.url)
    return designer.design(
        DesignRequest(seed=9, now=datetime(2026, 11, 25, tzinfo=UTC)), CancellationToken()
    )


def test_a_valid_reply_becomes_a_strategy(fake_claude: FakeClaude) -> None:
    fake_claude.reply_text = "Here is my idea:\n" + json.dumps(GOOD) + "\nGood luck!"
    strategy = _design(fake_claude)
    assert getattr(strategy, "name", None) == "llm_rsi_idea"
    (request,) = fake_claude.requests
    assert request["path"] == "/v1/messages"
    assert request["api_key"] == "test-key"
    assert request["body"]["model"] == "claude-haiku-4-5"
    assert "JSON" in request["body"]["messages"][0]["content"]


def test_an_invalid_strategy_is_refused_with_the_field(fake_claude: FakeClaude) -> None:
    broken = {**GOOD, "indicators": [{"name": "x", "type": "astrology", "params": {}}]}
    fake_claude.reply_text = json.dumps(broken)
    with pytest.raises(StrategyValidationError) as info:
        _design(fake_claude)
    assert "indicators.0.type" in info.value.message
    fake_claude.reply_text = "I would rather not."
    with pytest.raises(StrategyValidationError):
        _design(fake_claude)


def test_an_api_error_fails_clearly(fake_claude: FakeClaude) -> None:
    fake_claude.status = 500
    with pytest.raises(JobFailedError) as info:
        _design(fake_claude)
    assert "LLM designer call failed" in info.value.message
    assert "test-key" not in info.value.message


def test_a_full_cycle_designed_by_the_fake_model(
    fake_claude: FakeClaude, backend_factory: BackendFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_claude.reply_text = json.dumps({**GOOD, "model": {**GOOD["model"], "epochs": 10}})
    monkeypatch.setenv("ANTHROPIC_API_KEY", "secret-test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_claude.url)
    backend = backend_factory()
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        op_id = http.post("/agent/trigger", json={"model": "sonnet", "seed": 1}).json()["data"][
            "operation_id"
        ]
        for _ in range(600):
            op = http.get(f"/operations/{op_id}").json()["data"]
            if op["status"] in ("completed", "failed", "cancelled"):
                break
            threading.Event().wait(0.05)
    assert op["status"] == "completed", op["error_message"]
    assert op["result_summary"]["strategy_name"] == "llm_rsi_idea"
    assert op["metadata"]["parameters"]["designer"] == "llm:sonnet"
    assert fake_claude.requests[0]["body"]["model"] == "claude-sonnet-4-5"
    assert "secret-test-key" not in backend.log_path.read_text()
