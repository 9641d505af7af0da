"""`ktrdr ops ...`: the real command in a subprocess against a real backend."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from ktrdr.records.models import OperationType
from tests.support.live_backend import LiveBackend, env_without_ktrdr, free_port, run_ktrdr
from tests.support.progress import progress


@dataclass(frozen=True)
class Seeded:
    backend: LiveBackend
    completed: str
    failed: str


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One backend for the read-only commands, with operations written offline first."""
    backend = LiveBackend(tmp_path_factory.mktemp("ops-cli"))
    try:
        with backend.offline_service() as service:
            done = service.create(OperationType.TRAINING, parameters={"strategy": "rsi"})
            service.start(done.operation_id)
            progress(service, done.operation_id, 90, "Epoch 10/10")
            service.complete(done.operation_id, {"accuracy": 0.61})
            failed = service.create(OperationType.BACKTESTING)
            service.start(failed.operation_id)
            service.fail(failed.operation_id, "No model found")
        yield Seeded(backend.start(), done.operation_id, failed.operation_id)
    finally:
        backend.kill()


def assert_clean_failure(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Exit ``code``, exactly one line on stderr starting ``Error:``, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_a_fresh_backend_lists_nothing(backend: LiveBackend) -> None:
    as_json = run_ktrdr(backend.env, "ops", "list", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == []
    assert as_json.stderr == ""

    human = run_ktrdr(backend.env, "ops", "list")
    assert human.returncode == 0, human.stderr
    assert human.stdout.strip() == "No operations."


def test_list_shows_a_table(seeded: Seeded) -> None:
    proc = run_ktrdr(seeded.backend.env, "ops", "list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any("ID" in line and "Status" in line for line in lines), proc.stdout
    (done_line,) = [line for line in lines if seeded.completed in line]
    assert "training" in done_line and "completed" in done_line and "100%" in done_line
    (failed_line,) = [line for line in lines if seeded.failed in line]
    assert "backtesting" in failed_line and "failed" in failed_line
    # Newest first.
    assert lines.index(failed_line) < lines.index(done_line)


def test_list_json_with_filters(seeded: Seeded) -> None:
    env = seeded.backend.env
    everything = json.loads(run_ktrdr(env, "ops", "list", "--json").stdout)
    assert [op["operation_id"] for op in everything] == [seeded.failed, seeded.completed]
    only_failed = json.loads(run_ktrdr(env, "ops", "list", "--status", "failed", "--json").stdout)
    assert [op["operation_id"] for op in only_failed] == [seeded.failed]
    trainings = run_ktrdr(env, "ops", "list", "--type", "training", "--json")
    assert [op["operation_id"] for op in json.loads(trainings.stdout)] == [seeded.completed]


def test_show_json_is_the_operation(seeded: Seeded) -> None:
    proc = run_ktrdr(seeded.backend.env, "ops", "show", seeded.completed, "--json")
    assert proc.returncode == 0, proc.stderr
    op = json.loads(proc.stdout)
    assert op["operation_id"] == seeded.completed
    assert op["status"] == "completed"
    assert op["progress"]["percentage"] == 100.0
    assert op["result_summary"] == {"accuracy": 0.61}
    assert isinstance(op["version"], int)


def test_show_human_output(seeded: Seeded) -> None:
    proc = run_ktrdr(seeded.backend.env, "ops", "show", seeded.failed)
    assert proc.returncode == 0, proc.stderr
    assert seeded.failed in proc.stdout
    assert "failed" in proc.stdout
    assert "No model found" in proc.stdout


def test_show_of_an_unknown_id_is_one_clear_line(seeded: Seeded) -> None:
    proc = run_ktrdr(seeded.backend.env, "ops", "show", "op_does_not_exist")
    assert_clean_failure(proc, 1, "op_does_not_exist", "not found")
    assert proc.stdout == ""


def test_cancel_of_an_unknown_id_is_one_clear_line(seeded: Seeded) -> None:
    proc = run_ktrdr(seeded.backend.env, "ops", "cancel", "op_does_not_exist")
    assert_clean_failure(proc, 1, "not found")


def test_an_unknown_status_is_a_usage_error(seeded: Seeded) -> None:
    proc = run_ktrdr(seeded.backend.env, "ops", "list", "--status", "bogus")
    assert_clean_failure(proc, 2, "bogus", "running")
    typed = run_ktrdr(seeded.backend.env, "ops", "list", "--type", "bogus")
    assert_clean_failure(typed, 2, "bogus", "agent_research")


def test_cancel_of_a_finished_operation_says_so(seeded: Seeded) -> None:
    proc = run_ktrdr(seeded.backend.env, "ops", "cancel", seeded.completed)
    assert_clean_failure(proc, 1, seeded.completed, "already completed")
    failed = run_ktrdr(seeded.backend.env, "ops", "cancel", seeded.failed)
    assert_clean_failure(failed, 1, "already failed")
    after = json.loads(
        run_ktrdr(seeded.backend.env, "ops", "show", seeded.completed, "--json").stdout
    )
    assert after["status"] == "completed"


def test_an_unreachable_explicit_url_is_one_clear_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = env_without_ktrdr(KTRDR_API_URL=url, KTRDR_DATA_DIR=str(tmp_path / "data"))
    for args in (("ops", "list"), ("ops", "show", "op_x"), ("ops", "cancel", "op_x")):
        proc = run_ktrdr(env, *args)
        assert_clean_failure(proc, 1, "No ktrdr backend answers", url, "KTRDR_API_URL")
    # An explicit URL is never replaced by an autostarted backend.
    assert not (tmp_path / "data" / "server.pid").exists()


def test_without_autostart_nothing_is_started(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = env_without_ktrdr(KTRDR_PORT=str(port), KTRDR_DATA_DIR=str(data), KTRDR_AUTOSTART="0")
    proc = run_ktrdr(env, "ops", "list", "--json")
    assert_clean_failure(proc, 1, f"127.0.0.1:{port}", "autostart is off", "server start")
    assert proc.stdout == ""

    flag_env = env_without_ktrdr(KTRDR_PORT=str(port), KTRDR_DATA_DIR=str(data))
    flagged = run_ktrdr(flag_env, "ops", "list", "--no-autostart")
    assert_clean_failure(flagged, 1, "autostart is off")
    assert not (data / "server.pid").exists()


class _NotKtrdr(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        body = b"<html><body>some other service</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


def test_a_url_that_is_not_a_ktrdr_backend_is_refused(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _NotKtrdr)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        env = env_without_ktrdr(KTRDR_API_URL=url, KTRDR_DATA_DIR=str(tmp_path))
        proc = run_ktrdr(env, "ops", "list")
        assert_clean_failure(proc, 1, "No ktrdr backend answers", url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
