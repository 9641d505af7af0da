"""The operations database on a filesystem that fills up, on a real backend (uvicorn on
loopback, a real SQLite file on a small tmpfs): the backend keeps serving (no SIGBUS from a
memory-mapped WAL index, no traceback), a trigger is refused with 503 and the real cause
and leaves no cycle behind, /health says degraded, and all is well once space is back."""

from __future__ import annotations

import httpx

from tests.conftest import BackendFactory
from tests.integration.test_hardening_storage import MiB, start_with_a_full_disk


def test_a_full_disk_under_the_database_is_a_503_and_the_backend_lives_on(
    backend_factory: BackendFactory,
) -> None:
    backend = backend_factory(start=False)
    undo = start_with_a_full_disk(backend, "tmpfs")  # skips where it cannot mount
    try:
        with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as http:
            assert http.get("/health").json()["data"]["store_status"] == "ok"
            filler = backend.data_dir / "filler"
            with filler.open("wb", buffering=0) as out:
                try:
                    while True:
                        out.write(b"\0" * MiB)
                except OSError:
                    pass  # the filesystem is full now
            refused = [http.post("/agent/trigger", json={"folds": 0, "seed": n}) for n in range(3)]
            assert {r.status_code for r in refused} == {503}, [r.text for r in refused]
            error = refused[-1].json()["error"]
            assert error["code"] == "storage_unavailable"
            assert "full" in error["message"] or "space" in error["message"], error
            health = http.get("/health").json()["data"]
            assert health["store_status"] == "degraded", health
            assert backend.running
            assert http.get("/agent/status").json()["data"]["active"] is False

            filler.unlink()
            started = http.post("/agent/trigger", json={"folds": 0, "seed": 1, "epochs": 2})
            assert started.status_code == 202, started.text
            assert http.get("/health").json()["data"]["store_status"] == "ok"
        log = backend.log_path.read_text(errors="replace")
        assert "Traceback" not in log and "SIGBUS" not in log
    finally:
        undo()
