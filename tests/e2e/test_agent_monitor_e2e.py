"""End to end: the real `ktrdr agent trigger --monitor` in a real pseudo-terminal, against a
real backend subprocess on loopback (SQLite file, real training and backtest)."""

from __future__ import annotations

import io
import os
import signal
import sys
import time
from collections.abc import Iterator

import pexpect
import pytest

from ktrdr.client import KtrdrClient
from ktrdr.records.models import OperationStatus
from tests.support.live_backend import LiveBackend, run_ktrdr

pytestmark = pytest.mark.e2e

LONG_EPOCHS = "4000"  # a few ms each: long enough to interrupt, short enough to finish
LONG_SHOWN = "4,000"  # as the step text prints it


def spawn_ktrdr(backend: LiveBackend, *args: str, timeout: float = 90) -> pexpect.spawn:
    env = {**backend.env, "COLUMNS": "110", "LINES": "30", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ktrdr", *args],
        env=env,
        encoding="utf-8",
        timeout=timeout,
        dimensions=(30, 110),
    )
    child.logfile_read = io.StringIO()  # everything the terminal showed
    return child


def screen_text(child: pexpect.spawn) -> str:
    log = child.logfile_read
    assert isinstance(log, io.StringIO)
    return log.getvalue()


@pytest.fixture
def terminal_children() -> Iterator[list[pexpect.spawn]]:
    spawned: list[pexpect.spawn] = []
    yield spawned
    for child in spawned:
        if child.isalive():
            child.terminate(force=True)
        child.close()


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None, f"killed by signal {child.signalstatus}"
    return int(child.exitstatus)


def latest_cycle(client: KtrdrClient) -> str:
    ops, _ = client.list_operations(operation_type="agent_research", limit=1)
    assert ops, "no research cycle was created"
    return ops[0].operation_id


def test_happy_path_shows_phases_and_the_completion_summary(
    backend: LiveBackend, terminal_children: list[pexpect.spawn]
) -> None:
    child = spawn_ktrdr(backend, "agent", "trigger", "--folds", "0", "--monitor", "--seed", "11")
    terminal_children.append(child)
    child.expect("Research Cycle")
    child.expect("Research cycle complete!")
    child.expect(r"Sharpe: -?\d+\.\d\d \| Win Rate: \d+% \| Max DD: \d+%")
    assert finish(child) == 0
    with backend.client() as client:
        cycle = client.get_operation(latest_cycle(client))
    assert cycle.status is OperationStatus.COMPLETED
    assert cycle.progress.percentage == 100.0
    summary = cycle.result_summary or {}
    assert summary["verdict"] in ("promising", "neutral", "poor")
    shown = screen_text(child)
    assert summary["strategy_name"] in shown
    assert str(summary["verdict"]) in shown
    assert "Traceback" not in shown


def test_nested_child_bar_then_ctrl_c_cancels_parent_and_child_within_a_second(
    backend: LiveBackend, terminal_children: list[pexpect.spawn]
) -> None:
    child = spawn_ktrdr(
        backend, "agent", "trigger", "--folds", "0", "-f", "--seed", "5", "--epochs", LONG_EPOCHS
    )
    terminal_children.append(child)
    child.expect("Training model")
    child.expect(r"└─ Epoch [\d,]+/" + LONG_SHOWN)
    child.expect(r"\[\d+%\]")
    child.sendintr()
    sent = time.monotonic()
    child.expect("Cancelling research cycle")
    child.expect(r"Cancelled\. Training stopped at epoch [\d,]+/" + LONG_SHOWN)
    assert finish(child) == 130

    with backend.client() as client:
        cycle_id = latest_cycle(client)
        deadline = sent + 1.0
        while time.monotonic() < deadline:
            cycle = client.get_operation(cycle_id)
            if cycle.status is OperationStatus.CANCELLED:
                break
            time.sleep(0.02)
        cycle = client.get_operation(cycle_id)
        assert cycle.status is OperationStatus.CANCELLED
        training_id = cycle.metadata.parameters["training_op_id"]
        training = client.get_operation(training_id)
    assert training.status is OperationStatus.CANCELLED
    assert cycle.completed_at is not None and training.completed_at is not None
    stopped = (cycle.result_summary or {})["stopped_at"]
    assert stopped.startswith("Training stopped at epoch ")
    assert (training.result_summary or {})["stopped_at"].startswith("Epoch ")


def test_a_second_ctrl_c_exits_at_once_and_says_how_to_make_sure(
    backend: LiveBackend, terminal_children: list[pexpect.spawn]
) -> None:
    child = spawn_ktrdr(
        backend, "agent", "trigger", "--folds", "0", "-f", "--seed", "6", "--epochs", LONG_EPOCHS
    )
    terminal_children.append(child)
    child.expect(r"└─ Epoch [\d,]+/" + LONG_SHOWN)
    os.kill(backend.pid, signal.SIGSTOP)  # a hung backend: the first cancel cannot finish
    try:
        child.sendintr()
        child.expect("Cancelling research cycle")
        time.sleep(0.3)
        child.sendintr()
        sent = time.monotonic()
        child.expect("Exiting now")
        code = finish(child)
        took = time.monotonic() - sent
    finally:
        os.kill(backend.pid, signal.SIGCONT)
    assert code == 130
    assert took < 2.5, took  # at once: at most the bounded wait for the DELETE
    shown = screen_text(child)
    assert "has not confirmed the cancel request" in shown and "Traceback" not in shown

    # What the message says to do works once the backend answers again.
    with backend.client() as client:
        cycle_id = latest_cycle(client)
        client.cancel_operation(cycle_id)
        deadline = time.monotonic() + 5
        while client.get_operation(cycle_id).status is not OperationStatus.CANCELLED:
            assert time.monotonic() < deadline, client.get_operation(cycle_id)
            time.sleep(0.05)
        training_id = client.get_operation(cycle_id).metadata.parameters["training_op_id"]
        assert client.get_operation(training_id).status is OperationStatus.CANCELLED


def test_backend_killed_then_restarted_shows_connection_lost_then_the_outcome(
    backend: LiveBackend, terminal_children: list[pexpect.spawn]
) -> None:
    child = spawn_ktrdr(
        backend, "agent", "trigger", "--folds", "0", "-f", "--seed", "8", "--epochs", LONG_EPOCHS
    )
    terminal_children.append(child)
    child.expect(r"Epoch [\d,]+/")
    backend.kill()
    child.expect("Connection lost, retrying")
    backend.start()
    # The restarted backend marks the interrupted cycle failed; the monitor says why.
    child.expect("Interrupted by a backend restart")
    assert finish(child) == 1


def test_connection_loss_and_recovery_without_a_restart(
    backend: LiveBackend, terminal_children: list[pexpect.spawn]
) -> None:
    child = spawn_ktrdr(
        backend, "agent", "trigger", "--folds", "0", "-f", "--seed", "9", "--epochs", "300"
    )
    terminal_children.append(child)
    child.expect(r"Epoch [\d,]+/")
    os.kill(backend.pid, signal.SIGSTOP)  # the backend stops answering but keeps its state
    try:
        child.expect("Connection lost, retrying", timeout=30)
    finally:
        os.kill(backend.pid, signal.SIGCONT)
    child.expect("Research cycle complete!", timeout=120)
    assert finish(child) == 0


def test_lost_operation_exits_cleanly(
    backend_factory: object, terminal_children: list[pexpect.spawn]
) -> None:
    from tests.support.live_backend import LiveBackend as _LB

    assert callable(backend_factory)
    ephemeral: _LB = backend_factory(ephemeral=True)
    child = spawn_ktrdr(
        ephemeral, "agent", "trigger", "--folds", "0", "-f", "--seed", "4", "--epochs", LONG_EPOCHS
    )
    terminal_children.append(child)
    child.expect(r"Epoch [\d,]+/")
    ephemeral.kill()
    ephemeral.start()  # in-memory store: the operation is gone
    child.expect("Operation not found")
    child.expect("lost due to restart")
    assert finish(child) == 1
    assert "Traceback" not in screen_text(child)


def test_non_tty_run_prints_plain_lines_only(backend: LiveBackend) -> None:
    proc = run_ktrdr(
        backend.env, "agent", "trigger", "--folds", "0", "-f", "--seed", "21", timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "\x1b[" not in out, "escape codes in piped output"
    assert "━" not in out, "progress bars in piped output"
    assert "Research cycle complete!" in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert 5 <= len(lines) <= 80, out
    assert any("Training" in line for line in lines)
    assert any("Backtest" in line for line in lines)


def test_json_prints_the_final_operation(backend: LiveBackend) -> None:
    import json

    proc = run_ktrdr(
        backend.env, "agent", "trigger", "--folds", "0", "-f", "--json", "--seed", "2", timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    op = json.loads(proc.stdout)
    assert op["status"] == "completed"
    assert op["operation_type"] == "agent_research"
    assert op["progress"]["percentage"] == 100.0


def test_model_train_uses_the_same_monitor_and_ctrl_c_cancels_it(
    backend: LiveBackend, terminal_children: list[pexpect.spawn]
) -> None:
    child = spawn_ktrdr(backend, "model", "train", "rsi_mean_reversion", "--epochs", "20000")
    terminal_children.append(child)
    child.expect(r"🧠 Training \[\d+%\]")
    child.expect(r"Epoch [\d,]+/20,000")
    child.sendintr()
    child.expect(r"Cancelled\. Training stopped at epoch [\d,]+/20,000\.")
    assert finish(child) == 130
    with backend.client() as client:
        ops, _ = client.list_operations(operation_type="training", limit=1)
    assert ops[0].status is OperationStatus.CANCELLED
