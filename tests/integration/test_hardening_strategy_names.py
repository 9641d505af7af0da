"""Over a real backend (uvicorn on loopback, a real SQLite file), a training request names a
strategy; it never reaches a file outside the data dir's strategies folder, and every such
refusal is the same 422, so the API cannot be used to learn which server files exist."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ktrdr.strategies.loader import dump_strategy, load_strategy
from tests.support.live_backend import LiveBackend

API = "/api/v1"


@pytest.fixture
def http(backend: LiveBackend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend.url + API, timeout=30) as client:
        yield client


def refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text[:500]
    body = response.json()
    assert body["success"] is False
    return dict(body["error"])


def test_paths_links_and_fifos_are_one_generic_422_and_a_name_works(
    backend: LiveBackend, http: httpx.Client, tmp_path: Path
) -> None:
    folder = backend.data_dir / "strategies"
    folder.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside.yaml"
    outside.write_text(dump_strategy(load_strategy("rsi_mean_reversion")), encoding="utf-8")
    (folder / "escape.yaml").symlink_to(outside)
    os.mkfifo(folder / "pipe.yaml")
    mine = load_strategy("rsi_mean_reversion").model_copy(update={"name": "mine"})
    (folder / "mine.yaml").write_text(dump_strategy(mine), encoding="utf-8")

    errors: list[dict[str, Any]] = []
    for name in ("/etc/passwd", "../x", str(outside), "pipe", "pipe.yaml", "escape", "nope"):
        response = http.post("/training/start", json={"strategy": name})
        errors.append(refusal(response))
    messages = {e["message"] for e in errors}
    assert len(messages) == 1, messages
    message = messages.pop()
    assert message.startswith("no such strategy")
    for leak in ("passwd", "root", str(tmp_path), "outside", "pipe", "escape"):
        assert leak not in message
    assert all(e["details"] == {"field": "strategy"} for e in errors)
    assert http.get("/operations").json()["total"] == 0
    assert http.get("/health").status_code == 200  # no request thread is stuck on the FIFO

    started = http.post("/training/start", json={"strategy": "mine", "epochs": 1})
    assert started.status_code == 202, started.text[:500]
    op_id = started.json()["data"]["operation_id"]
    op = http.get(f"/operations/{op_id}").json()["data"]
    assert op["metadata"]["parameters"]["strategy_name"] == "mine"
