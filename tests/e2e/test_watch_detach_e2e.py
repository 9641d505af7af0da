"""End to end, in a real pseudo-terminal against a real backend subprocess: looking at running
work cannot hurt it. Ctrl+C on a re-attached watcher (`agent status -f`) only stops watching
and the cycle completes; Ctrl+C where the work was started (`agent trigger -f`), or where
`--on-interrupt cancel` asks for it, still cancels. And `--notify`: the bell and one OSC 9
notification at the end on a terminal, not a byte of them into a pipe."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pexpect
import pytest

from ktrdr.client import KtrdrClient
from ktrdr.contract.requests import AgentTriggerRequest
from ktrdr.records.models import OperationStatus
from tests.e2e.test_agent_monitor_e2e import finish, screen_text, spawn_ktrdr
from tests.support.live_backend import LiveBackend

pytestmark = pytest.mark.e2e

# Long enough to press Ctrl+C in the middle of training on a loaded machine, short enough
# for the cycle to then run to its end within the test.
EPOCHS = 300
LONG_EPOCHS = 4000  # only ever cancelled
COMPLETION_SECONDS = 300.0


@pytest.fixture
def spawned() -> Iterator[list[pexpect.spawn]]:
    children: list[pexpect.spawn] = []
    yield children
    for child in children:
        if child.isalive():
            child.terminate(force=True)
        child.close()


def _trigger(backend: LiveBackend, seed: int, epochs: int) -> str:
    with backend.client() as client:
        request = AgentTriggerRequest(folds=0, epochs=epochs, seed=seed)
        return client.trigger_cycle(request).operation_id


def _until(client: KtrdrClient, op_id: str, status: OperationStatus, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (op := client.get_operation(op_id)).status is not status:
        assert not op.is_terminal, f"{op_id} ended {op.status.value}, not {status.value}"
        assert time.monotonic() < deadline, f"{op_id} still {op.status.value}"
        time.sleep(0.5)


def test_ctrl_c_on_agent_status_follow_detaches_and_the_cycle_completes(
    backend: LiveBackend, spawned: list[pexpect.spawn]
) -> None:
    cycle_id = _trigger(backend, seed=12, epochs=EPOCHS)
    child = spawn_ktrdr(backend, "agent", "status", "-f")
    spawned.append(child)
    child.expect(rf"└─ Epoch [\d,]+/{EPOCHS}")
    child.sendintr()
    child.expect_exact(
        f"Stopped watching; it keeps running. Cancel it with: ktrdr ops cancel {cycle_id}"
    )
    assert finish(child) == 4
    shown = screen_text(child)
    assert "Cancelling" not in shown and "Traceback" not in shown
    with backend.client() as client:
        op = client.get_operation(cycle_id)
        assert not op.cancel_requested and op.status is OperationStatus.RUNNING
        _until(client, cycle_id, OperationStatus.COMPLETED, COMPLETION_SECONDS)


def test_ctrl_c_still_cancels_where_the_work_was_started_or_when_asked(
    backend: LiveBackend, spawned: list[pexpect.spawn]
) -> None:
    child = spawn_ktrdr(
        backend, "agent", "trigger", "--folds", "0", "-f", "--seed", "13", "--epochs", "4000"
    )
    spawned.append(child)
    child.expect(rf"└─ Epoch [\d,]+/{LONG_EPOCHS:,}")
    child.sendintr()
    child.expect("Cancelling research cycle")
    child.expect(rf"Cancelled\. Training stopped at epoch [\d,]+/{LONG_EPOCHS:,}")
    assert finish(child) == 130
    with backend.client() as client:
        ops, _ = client.list_operations(operation_type="agent_research", limit=1)
        assert ops[0].status is OperationStatus.CANCELLED

    # A re-attached watcher cancels too, when told to.
    cycle_id = _trigger(backend, seed=14, epochs=LONG_EPOCHS)
    child = spawn_ktrdr(backend, "ops", "follow", cycle_id, "--on-interrupt", "cancel")
    spawned.append(child)
    child.expect(rf"└─ Epoch [\d,]+/{LONG_EPOCHS:,}")
    child.sendintr()
    child.expect(r"Cancelled\.")
    assert finish(child) == 130
    with backend.client() as client:
        assert client.get_operation(cycle_id).status is OperationStatus.CANCELLED


def test_notify_rings_once_on_a_terminal_and_never_into_a_pipe(
    backend: LiveBackend, spawned: list[pexpect.spawn]
) -> None:
    cycle_id = _trigger(backend, seed=15, epochs=20)
    # Three watchers of the same cycle at once: two terminals, one pipe.
    follower = spawn_ktrdr(backend, "ops", "follow", cycle_id, "--notify", timeout=300)
    waiter = spawn_ktrdr(backend, "ops", "wait", cycle_id, "--notify", "--exit-status", timeout=300)
    spawned += [follower, waiter]
    piped = subprocess.Popen(
        [sys.executable, "-m", "ktrdr", "ops", "wait", cycle_id, "--notify"],
        env=backend.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = piped.communicate(timeout=300)
    finally:
        if piped.poll() is None:
            piped.kill()
    assert piped.returncode == 0, err
    assert "\x07" not in out + err and "\x1b" not in out + err
    assert re.fullmatch(rf"{cycle_id}  research cycle  completed  verdict \w+\n", out), out

    assert finish(follower) == 0 and finish(waiter) == 0
    with backend.client() as client:
        verdict = (client.get_operation(cycle_id).result_summary or {})["verdict"]
    expected = f"\x07\x1b]9;Research cycle {cycle_id} completed: verdict {verdict}\x07"
    for terminal in (follower, waiter):
        shown = screen_text(terminal)
        assert shown.count("\x1b]9;") == 1, shown
        assert shown.count("\x07") == 2, shown  # the bell, and the end of the one OSC 9
        assert shown.rstrip("\r\n").endswith(expected), shown[-300:]
