"""The CLI at its edges, as a user meets it: the real `ktrdr` command in a subprocess (a
real backend on loopback where one is needed). Malformed operation ids are usage errors and
never reach another operation; backend text cannot drive the terminal; a deeply nested YAML
is a clear error; a reader that stops reading is not a failure; and a watch whose operation
someone else cancelled ends with its own documented exit code."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console

from ktrdr.cli.monitor import exit_code
from ktrdr.cli.output import EXIT_CANCELLED, EXIT_CANCELLED_ELSEWHERE, terminal_safe
from ktrdr.cli.views import LiveRenderer
from ktrdr.cli.views.console import TerminalSafeConsole
from ktrdr.client.follow import ViewState
from ktrdr.client.http import KtrdrClient, path_segment
from ktrdr.contract.requests import TrainingStartRequest
from ktrdr.records.models import OperationStatus, OperationType
from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend, env_without_ktrdr, run_ktrdr
from tests.support.progress import progress
from tests.support.snapshots import cycle
from tests.support.waiting import wait_until

ESC_CLEAR = "\x1b[2J"


def assert_usage_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "unexpected" not in proc.stderr
    assert needle in proc.stderr, proc.stderr[-2000:]


def long_training(backend: LiveBackend) -> str:
    with backend.client() as client:
        started = client.start_training(
            TrainingStartRequest(strategy="rsi_mean_reversion", epochs=100_000)
        )
        op_id = started.operation_id
        assert wait_until(
            lambda: client.get_operation(op_id).status is OperationStatus.RUNNING, 30, 0.05
        ), "the training never started"
    return op_id


# --- operation ids --------------------------------------------------------------------------


def test_malformed_ids_are_usage_errors_and_never_reach_another_operation(
    backend: LiveBackend,
) -> None:
    op_id = long_training(backend)
    for args in (
        ("ops", "cancel", f"x/../{op_id}"),
        ("ops", "cancel", f"../{op_id}"),
        ("ops", "show", f"{op_id}/../{op_id}"),
        ("ops", "follow", f"x/../{op_id}"),
        ("ops", "show", f"{op_id}\x1b[2J"),
        ("ops", "show", "op\nx"),
        ("ops", "cancel", "o" * 100_000),
        ("ops", "list", "--parent", f"x/../{op_id}"),
        ("agent", "strategy", f"x/../{op_id}"),
    ):
        proc = run_ktrdr(backend.env, *args)
        assert_usage_error(proc, "not an operation id")
        assert ESC_CLEAR not in proc.stderr and len(proc.stderr) < 2_000
    with backend.client() as client:
        assert client.get_operation(op_id).status is OperationStatus.RUNNING

    # A well-formed but unknown id is still the backend's "not found" (exit 1).
    unknown = run_ktrdr(backend.env, "ops", "show", "op_unknown")
    assert unknown.returncode == 1 and "not found" in unknown.stderr


def test_the_client_sends_an_id_as_one_encoded_path_segment() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(404, json={"success": False, "error": {"code": "not_found"}})

    with KtrdrClient("http://ktrdr.test", transport=httpx.MockTransport(answer)) as client:
        for bad in ("x/../op_y", "..", "a?b#c", "a%2Fb", "a\x1bb"):
            try:
                client.cancel_operation(bad)
            except Exception:  # noqa: S110 - only the URL it tried matters here
                pass
    assert seen == [
        "/api/v1/operations/x%2F..%2Fop_y",
        "/api/v1/operations/%2E%2E",
        "/api/v1/operations/a%3Fb%23c",
        "/api/v1/operations/a%252Fb",
        "/api/v1/operations/a%1Bb",
    ]
    assert path_segment("SP500") == "SP500"


# --- backend text cannot drive the terminal --------------------------------------------------


def test_terminal_safe_shows_control_characters_instead_of_sending_them() -> None:
    assert terminal_safe(f"a{ESC_CLEAR}b\x07\r\x9b") == "a\\x1b[2Jb\\x07\\x0d\\x9b"
    assert terminal_safe("line one\nline two\ttab ✓ é") == "line one\nline two\ttab ✓ é"


def test_backend_text_with_escape_sequences_is_printed_inert(
    backend_factory: BackendFactory,
) -> None:
    backend = backend_factory(start=False)
    with backend.offline_service() as service:
        op = service.create(OperationType.BACKTESTING, parameters={"symbol": f"X{ESC_CLEAR}"})
        service.start(op.operation_id)
        progress(service, op.operation_id, 50, f"Bar 5{ESC_CLEAR}\x1b]0;pwned\x07")
        service.fail(op.operation_id, f"boom{ESC_CLEAR}\x1b[31m")
    backend.start()
    for args in (
        ("ops", "show", op.operation_id),
        ("ops", "list"),
        ("ops", "follow", op.operation_id, "--plain"),
        ("ops", "cancel", op.operation_id),
    ):
        proc = run_ktrdr(backend.env, *args)
        assert "\x1b" not in proc.stdout + proc.stderr, (args, proc.stdout, proc.stderr)
        assert "\x07" not in proc.stdout + proc.stderr
    shown = run_ktrdr(backend.env, "ops", "follow", op.operation_id, "--plain")
    assert "boom\\x1b[2J" in shown.stdout, shown.stdout


def test_a_terminal_console_keeps_its_own_escapes_but_not_the_backends() -> None:
    out = io.StringIO()
    console: Console = TerminalSafeConsole(
        file=out, force_terminal=True, width=100, color_system="standard"
    )
    renderer = LiveRenderer(console, clock=lambda: 0.0)
    renderer.start()
    failed = cycle("training", 4, status="failed", error=f"loss diverged{ESC_CLEAR}")
    renderer.update(ViewState("cycle", parent=cycle(f"training{ESC_CLEAR}", 3)))
    renderer.finish([(f"✗ failed: {failed.error_message}", "red")])
    text = out.getvalue()
    assert ESC_CLEAR not in text
    assert "loss diverged\\x1b[2J" in text
    assert "\x1b[?25h" in text and "\x1b[31m" in text  # rich's own cursor and colour codes


# --- YAML too deep, a closed pipe ------------------------------------------------------------


def test_a_deeply_nested_strategy_file_is_a_clear_error(tmp_path: Path) -> None:
    env = env_without_ktrdr(KTRDR_DATA_DIR=str(tmp_path / "data"), KTRDR_AUTOSTART="0")
    for name, text in (
        ("deep.yaml", "name: x\nmodel: " + "[" * 100_000 + "]" * 100_000 + "\n"),
        ("deep_map.yaml", "name: x\nmodel: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n"),
        ("deep.json", '{"name": "x", "model": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    ):
        path = tmp_path / name
        path.write_text(text)
        proc = run_ktrdr(env, "model", "train", str(path))
        assert_usage_error(proc, "nested too deeply")


def test_output_into_a_pipe_closed_early_exits_0_quietly(backend: LiveBackend) -> None:
    long_training(backend)
    for args in (("ops", "list"), ("ops", "list", "--json"), ("model", "examples")):
        proc = subprocess.Popen(
            [sys.executable, "-m", "ktrdr", *args],
            env=backend.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # like `| head -0`: the reader is gone before the first line
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.wait(timeout=60) == 0, (args, err)
        assert err == "", (args, err)
    # `| head -1` as a user types it
    shell = subprocess.run(
        f"'{sys.executable}' -m ktrdr ops list | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        env=backend.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shell.returncode == 0 and shell.stderr == "", shell


# --- a watch cancelled by someone else --------------------------------------------------------


def test_exit_codes_say_who_cancelled() -> None:
    cancelled = cycle("training", 5, status="cancelled")
    assert exit_code(ViewState("cycle", parent=cancelled), interrupted=False) == 3
    assert exit_code(ViewState("cycle", parent=cancelled), interrupted=True) == 130
    assert (EXIT_CANCELLED_ELSEWHERE, EXIT_CANCELLED) == (3, 130)


def test_a_watch_whose_operation_is_cancelled_elsewhere_exits_3(backend: LiveBackend) -> None:
    op_id = long_training(backend)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "ktrdr", "ops", "follow", op_id, "--plain"],
        env=backend.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)  # let it attach; if it attaches later it sees the same ending
    cancelled = run_ktrdr(backend.env, "ops", "cancel", op_id)
    assert cancelled.returncode == 0, cancelled.stderr
    out, err = watcher.communicate(timeout=120)
    assert watcher.returncode == EXIT_CANCELLED_ELSEWHERE, (watcher.returncode, out, err)
    assert "✓ Cancelled." in out and "Traceback" not in err
    with backend.client() as client:
        assert client.get_operation(op_id).status is OperationStatus.CANCELLED
