"""A whole research cycle designed by "Claude": a real backend talking to a local fake
Messages API server (never the internet). Unit cases live in test_llm_designer.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

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


def test_a_full_cycle_designed_by_the_fake_model(
    fake_claude: FakeClaude, backend_factory: BackendFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_claude.reply_text = json.dumps({**GOOD, "model": {**GOOD["model"], "epochs": 10}})
    monkeypatch.setenv("ANTHROPIC_API_KEY", "secret-test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_claude.url)
    backend = backend_factory()
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=5) as http:
        op_id = http.post("/agent/trigger", json={"folds": 0, "model": "sonnet", "seed": 1}).json()[
            "data"
        ]["operation_id"]
        for _ in range(600):
            op = http.get(f"/operations/{op_id}").json()["data"]
            if op["status"] in ("completed", "failed", "cancelled"):
                break
            threading.Event().wait(0.05)
    assert op["status"] == "completed", op["error_message"]
    assert op["result_summary"]["strategy_name"] == "llm_rsi_idea"
    assert op["metadata"]["parameters"]["designer"] == "llm:sonnet"
    assert fake_claude.requests[0]["body"]["model"] == "claude-sonnet-4-6"
    assert "secret-test-key" not in backend.log_path.read_text()
