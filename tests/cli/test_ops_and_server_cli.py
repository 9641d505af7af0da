"""`ktrdr ops` and `ktrdr server`: the real command, real backends, and every error path."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from ktrdr.contract.requests import TrainingStartRequest
from tests.support.live_backend import LiveBackend, free_port, run_ktrdr
from tests.support.waiting import wait_until


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_ktrdr(env, *args, timeout=60)


def clean_failure(proc: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and needle in lines[0], proc.stderr


def test_ops_commands_against_a_backend(backend: LiveBackend) -> None:
    env = backend.env
    empty = run(env, "ops", "list", "--json")
    assert empty.returncode == 0 and json.loads(empty.stdout) == []
    assert "No operations." in run(env, "ops", "list").stdout

    trained = run(env, "model", "train", "rsi_mean_reversion", "--epochs", "3", "--json")
    op_id = json.loads(trained.stdout)["operation_id"]
    table = run(env, "ops", "list")
    assert op_id in table.stdout and "completed" in table.stdout
    shown = json.loads(run(env, "ops", "show", op_id, "--json").stdout)
    assert shown["operation_id"] == op_id and shown["progress"]["percentage"] == 100.0
    assert "Epoch 3/3" in run(env, "ops", "show", op_id).stdout
    filtered = run(env, "ops", "list", "--status", "failed", "--json")
    assert json.loads(filtered.stdout) == []

    clean_failure(run(env, "ops", "show", "op_unknown"), 1, "not found")
    clean_failure(run(env, "ops", "list", "--status", "bogus"), 2, "unknown status")
    clean_failure(run(env, "ops", "list", "--type", "bogus"), 2, "unknown operation type")
    clean_failure(run(env, "ops", "cancel", op_id), 1, "already completed")
    clean_failure(run(env, "ops", "follow", "op_unknown"), 1, "not found")
    followed = run(env, "ops", "follow", op_id, "--plain")
    assert followed.returncode == 0 and "✓ Training complete!" in followed.stdout


@pytest.fixture
def local_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    env.update({"KTRDR_PORT": str(free_port()), "KTRDR_DATA_DIR": str(tmp_path / "data")})
    yield env
    run(env, "server", "stop")


def test_autostart_then_status_and_stop(local_env: dict[str, str]) -> None:
    listed = run(local_env, "ops", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    notes = listed.stderr.strip().splitlines()
    assert len(notes) == 1 and notes[0].startswith("Started a local ktrdr backend at")
    assert notes[0].endswith("it keeps running until `ktrdr server stop`"), notes
    assert run(local_env, "ops", "list", "--json").stderr == ""  # already running: silent

    status = run(local_env, "server", "status")
    assert status.returncode == 0 and "pid" in status.stdout
    assert json.loads(run(local_env, "server", "status", "--json").stdout)["running"] is True
    stopped = run(local_env, "server", "stop")
    assert stopped.returncode == 0 and "Stopped the ktrdr backend" in stopped.stdout
    assert run(local_env, "server", "status").returncode == 1
    assert "No local ktrdr backend was running" in run(local_env, "server", "stop").stdout


def test_detached_start_refuses_a_second_one(local_env: dict[str, str]) -> None:
    first = run(local_env, "server", "start", "--detach")
    assert first.returncode == 0, first.stderr
    assert "ktrdr backend started at http://127.0.0.1:" in first.stdout
    log = Path(local_env["KTRDR_DATA_DIR"]) / "server.log"
    assert log.exists()
    assert (Path(local_env["KTRDR_DATA_DIR"]) / "server.pid").read_text().strip().isdigit()
    second = run(local_env, "server", "start", "--detach")
    assert second.returncode == 1
    assert "already answers" in second.stderr


def test_a_second_backend_on_the_same_data_dir_is_refused_and_touches_nothing(
    backend: LiveBackend,
) -> None:
    with backend.client() as client:
        started = client.start_training(
            TrainingStartRequest(strategy="rsi_mean_reversion", epochs=50000)
        )
        op_id = started.operation_id
        assert wait_until(
            lambda: client.get_operation(op_id).progress.items_processed not in (None, 0), 60, 0.02
        ), "the training never got going"

    # Same data dir, another port: without the owner lock this process would mark the
    # running training failed in the shared file ("interrupted by a restart").
    other = {**backend.env, "KTRDR_PORT": str(free_port())}
    other.pop("KTRDR_API_URL")
    for args in (("server", "start"), ("server", "start", "--detach")):
        refused = run(other, *args)
        assert refused.returncode == 1, (args, refused.stdout, refused.stderr)
        assert "Traceback" not in refused.stdout + refused.stderr
        assert "in use by another ktrdr backend" in refused.stderr
    clean_failure(run(other, "server", "start"), 1, f"(pid {backend.pid})")

    with backend.client() as client:
        op = client.get_operation(op_id)
        assert op.status.value == "running", op
        client.cancel_operation(op_id)
    backend.kill()  # the file is the backend's alone while it runs
    with closing(sqlite3.connect(backend.db_path)) as conn:
        (status,) = conn.execute(
            "SELECT status FROM operations WHERE operation_id = ?", (op_id,)
        ).fetchone()
    assert status in ("running", "cancelled")  # never "failed" by a foreign recovery


def test_bad_settings_and_unusable_stores_are_one_line_and_change_nothing(
    tmp_path: Path,
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    port = str(free_port())
    clean_failure(
        run({**base, "KTRDR_PORT": "abc"}, "ops", "list"), 1, "Invalid setting KTRDR_PORT='abc'"
    )
    clean_failure(run({**base, "KTRDR_PORT": "70000"}, "server", "status"), 1, "KTRDR_PORT='70000'")
    clean_failure(
        run({**base, "KTRDR_LOG_FORMAT": "xml", "KTRDR_PORT": port}, "server", "start"),
        1,
        "KTRDR_LOG_FORMAT='xml'",
    )

    not_a_db = tmp_path / "garbage"
    not_a_db.mkdir()
    (not_a_db / "ktrdr.db").write_bytes(b"this is not SQLite\n" * 10)
    env = {**base, "KTRDR_DATA_DIR": str(not_a_db), "KTRDR_PORT": port}
    clean_failure(run(env, "server", "start"), 1, "is not a usable ktrdr database")
    assert (not_a_db / "ktrdr.db").read_bytes() == b"this is not SQLite\n" * 10

    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    env = {**base, "KTRDR_DB_PATH": str(blocked / "ktrdr.db"), "KTRDR_PORT": port}
    env["KTRDR_DATA_DIR"] = str(tmp_path / "data")
    clean_failure(run(env, "server", "start"), 1, "Cannot use")
