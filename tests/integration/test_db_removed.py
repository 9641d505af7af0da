"""The operations database file removed under a running backend (a real one, on loopback):
health turns degraded and says the file was removed or replaced, new work is refused with a
503 and a machine-readable code, and the log says so once."""

from __future__ import annotations

import json

import httpx

from tests.support.live_backend import LiveBackend
from tests.support.waiting import wait_until


def test_a_removed_database_file_degrades_the_backend_and_refuses_new_work(
    backend: LiveBackend,
) -> None:
    """Item 4 (issue 21): removal is detected: degraded health, 503s, one log line."""
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
        first = http.post("/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 2})
        assert first.status_code == 202, first.text
        assert http.get("/health").json()["data"]["store_status"] == "ok"

        backend.db_path.unlink()

        def health() -> dict[str, object]:
            data: dict[str, object] = http.get("/health").json()["data"]
            return data

        # The flusher looks every flush interval (0.5 s by default), with or without writes.
        assert wait_until(lambda: health()["store_status"] == "degraded", 5, 0.05), health()
        problem = str(health()["store_problem"])
        assert "removed or replaced" in problem, problem
        assert str(backend.db_path) not in problem  # no path on the wire

        for body in ({"seed": 2, "folds": 0}, {"seed": 3, "folds": 0}):
            refused = http.post("/agent/trigger", json=body)
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert error["code"] == "store_file_replaced", error
        refused = http.post("/training/start", json={"strategy": "rsi_mean_reversion"})
        assert refused.status_code == 503, refused.text
        assert health()["store_status"] == "degraded"  # it stays so: nothing can mend it

    lines = [
        json.loads(line)
        for line in backend.log_path.read_text(errors="replace").splitlines()
        if line.startswith("{")
    ]
    said = [line for line in lines if "removed or replaced" in str(line.get("event"))]
    assert len(said) == 1, said
    assert said[0]["level"] == "error"
