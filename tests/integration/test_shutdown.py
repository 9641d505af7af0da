"""A clean stop of a real backend: `ktrdr server stop` (SIGTERM, as systemd and docker send)
mid-training ends the training as interrupted by the shutdown, flushes it to the SQLite
file and exits 0; while it shuts down, new work is refused with a 503 that says why."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from ktrdr.api.app import create_app
from ktrdr.api.shutdown import StoppingServer, stop_signals_handled
from ktrdr.bootstrap import build_runtime
from ktrdr.config import Settings
from ktrdr.errors import ShuttingDownError
from ktrdr.operations.recovery import SHUTDOWN_MESSAGE
from ktrdr.records.models import OperationType
from tests.support.live_backend import LiveBackend, env_without_ktrdr, run_ktrdr
from tests.support.served import served_in_process
from tests.support.waiting import wait_until


class _Backend(LiveBackend):
    def exit_code(self, timeout: float) -> int | None:
        """The backend process's exit code once it ended by itself, None if it did not."""
        proc = self._proc
        assert proc is not None, "backend not started"
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


def _rows(db_path: Path) -> dict[str, tuple[str, dict[str, object]]]:
    """Every operation's status and body as the file holds them, read without ktrdr."""
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute("SELECT operation_id, status, body FROM operations").fetchall()
    finally:
        conn.close()
    return {op_id: (status, json.loads(body)) for op_id, status, body in rows}


@pytest.mark.parametrize("executor", ["process", "thread"])
def test_server_stop_mid_training_leaves_nothing_running_and_exits_0(
    tmp_path: Path, executor: str
) -> None:
    """Item 1 (issue 21): SIGTERM runs the shutdown path: nothing running on disk, exit 0."""
    backend = _Backend(tmp_path / "backend")
    backend.root.mkdir(parents=True)
    backend.env["KTRDR_EXECUTOR"] = executor
    backend.env["KTRDR_PROGRESS_FLUSH_SECONDS"] = "30"  # only the shutdown's flush can help
    backend.start()
    try:
        with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
            started = http.post(
                "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 50000}
            )
            assert started.status_code == 202, started.text
            op_id = started.json()["data"]["operation_id"]

            def epochs_done() -> int:
                data = http.get(f"/operations/{op_id}").json()["data"]
                return int(data["progress"]["items_processed"] or 0)

            assert wait_until(lambda: epochs_done() >= 3, 60, 0.02), backend.log_tail()
            seen = epochs_done()

        stop_env = env_without_ktrdr(
            KTRDR_HOST="127.0.0.1",
            KTRDR_PORT=str(backend.port),
            KTRDR_DATA_DIR=str(backend.data_dir),
        )
        # Reaped as it ends: the backend is this test's child, and a zombie would look alive
        # to `ktrdr server stop` until its 10 s escalation.
        ended: list[tuple[int | None, float]] = []
        began = time.monotonic()
        reaper = threading.Thread(
            target=lambda: ended.append((backend.exit_code(30), time.monotonic() - began))
        )
        reaper.start()
        stopped = run_ktrdr(stop_env, "server", "stop")
        reaper.join(35)
        assert stopped.returncode == 0, stopped.stderr
        assert "Stopped the ktrdr backend" in stopped.stdout, stopped.stdout
        code, took = ended[0]
        assert code == 0, (code, backend.log_tail())
        assert took < 9, f"the stop took {took:.1f}s (the CLI escalates to SIGKILL at 10s)"

        rows = _rows(backend.db_path)
        assert not [i for i, (s, _) in rows.items() if s in ("running", "pending")], rows
        status, body = rows[op_id]
        assert status == "failed"
        message = str(body["error_message"])
        assert message.startswith(SHUTDOWN_MESSAGE), message
        assert "Epoch" in message  # it says where the work was
        progress = body["progress"]
        assert isinstance(progress, dict)
        # With a 30 s flush interval only the shutdown's flush wrote this progress.
        assert int(progress["items_processed"] or 0) >= seen, (progress, seen)
        log = backend.log_path.read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]
    finally:
        backend.kill()


def test_new_work_is_refused_with_503_while_shutting_down(tmp_path: Path) -> None:
    """Item 1 (issue 21): from the stop signal on, a start request is a 503 shutting_down."""
    with served_in_process(tmp_path / "data") as served:
        with httpx.Client(base_url=served.api, timeout=10) as http:
            served.runtime.begin_shutdown()
            refused = http.post("/agent/trigger", json={"seed": 1})
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert error["code"] == "shutting_down"
            assert "shutting down" in error["message"]
            refused = http.post(
                "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 2}
            )
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "shutting_down"
            # Reads go on: a follower can still see how its work ended.
            assert http.get("/health").status_code == 200
            assert http.get("/operations").json()["total"] == 0


def test_the_stop_signal_refuses_new_work_before_uvicorn_drains(tmp_path: Path) -> None:
    """Item 1 (issue 21): uvicorn's signal handler turns on the refusal at once."""
    settings = Settings(data_dir=tmp_path / "data", executor="thread", ephemeral=True)
    runtime = build_runtime(settings)
    try:
        config = uvicorn.Config(create_app(settings, runtime), host="127.0.0.1", port=0)
        server = StoppingServer(config, on_stop=runtime.begin_shutdown)
        assert not runtime.shutting_down
        server.handle_exit(signal.SIGTERM, None)  # what uvicorn installs for SIGTERM
        assert runtime.shutting_down and server.should_exit
        with pytest.raises(ShuttingDownError):
            runtime.service.create(OperationType.TRAINING)
    finally:
        runtime.close()


def test_a_re_raised_stop_signal_no_longer_kills_the_process() -> None:
    """Item 1 (issue 21): the signal uvicorn re-raises after draining only notes the stop."""
    before = signal.getsignal(signal.SIGTERM)
    noted: list[str] = []
    with stop_signals_handled(lambda: noted.append("stop")):
        signal.raise_signal(signal.SIGTERM)  # as uvicorn does once its shutdown is done
    assert noted == ["stop"]
    assert signal.getsignal(signal.SIGTERM) is before  # the process's own handling is back
