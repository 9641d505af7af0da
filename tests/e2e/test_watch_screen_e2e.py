"""End to end, read off the screen: the real `ktrdr` in a tmux pane (so what is checked is
what the terminal shows after rich's redraws, line by line) against a real backend.

- a job process stopped with SIGSTOP (process executor) shows `⚠ No progress for N s`
  under the step line; SIGCONT clears it;
- a lost connection takes the step line's place under the cycle bar;
- after Ctrl+C, `⚠️ Cancelling research cycle...` stays above `✓ Cancelled. ...`;
- a completion summary follows a blank line, its details indented three spaces.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend
from tests.support.processes import job_processes

pytestmark = [
    pytest.mark.e2e,
    # A machine without tmux skips these (say how to get it); CI installs it and sets
    # CI_REQUIRE_TMUX, so there they can never be skipped silently.
    pytest.mark.skipif(
        shutil.which("tmux") is None and not os.environ.get("CI_REQUIRE_TMUX"),
        reason="needs tmux to read the screen: apt-get install tmux",
    ),
]

EXIT_LINE = re.compile(r"\[exit (\d+)\]")


class TmuxPane:
    """One command in a detached tmux session of its own (a private tmux server), kept on
    screen after it exits so its last frame can be read."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *args: str) -> None:
        self.socket = f"ktrdr-e2e-{uuid.uuid4().hex[:10]}"
        script = tmp_path / f"{self.socket}.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        command = shlex.join([sys.executable, "-m", "ktrdr", *args])
        # The shell traps Ctrl+C (a trap, not an ignore: the command still gets it), so
        # the pane outlives the command and keeps its last screen.
        script.write_text(
            f"#!/bin/sh\n{exports}unset NO_COLOR\ntrap 'true' INT\n{command}\n"
            'echo "[exit $?]"\nsleep 600\n'
        )
        script.chmod(0o755)
        self._tmux("new-session", "-d", "-s", "watch", "-x", "110", "-y", "40", str(script))

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def screen(self) -> list[str]:
        """The pane as the terminal shows it (with its scrollback), emoji presentation
        selectors dropped (terminals disagree about them), trailing spaces trimmed."""
        text = self._tmux("capture-pane", "-p", "-S", "-200", "-t", "watch")
        return [line.replace("\ufe0f", "").rstrip() for line in text.splitlines()]

    def wait_until(
        self, check: Callable[[list[str]], bool], timeout: float, what: str
    ) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.screen()
            if check(lines):
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {what}; screen:\n" + "\n".join(lines))
            time.sleep(0.1)

    def wait_for(self, pattern: str, timeout: float = 30) -> list[str]:
        found = re.compile(pattern)
        return self.wait_until(lambda ls: any(found.search(x) for x in ls), timeout, pattern)

    def exit_code(self, timeout: float = 30) -> int:
        lines = self.wait_for(EXIT_LINE.pattern, timeout)
        return int(next(m.group(1) for x in lines if (m := EXIT_LINE.search(x))))

    def ctrl_c(self) -> None:
        self._tmux("send-keys", "-t", "watch", "C-c")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def panes() -> Iterator[list[TmuxPane]]:
    opened: list[TmuxPane] = []
    yield opened
    for pane in opened:
        pane.close()


def open_pane(
    panes: list[TmuxPane], tmp_path: Path, backend: LiveBackend, *args: str, **env: str
) -> TmuxPane:
    pane = TmuxPane(tmp_path, {**backend.env, **env}, *args)
    panes.append(pane)
    return pane


def index_of(lines: list[str], pattern: str) -> int:
    found = re.compile(pattern)
    return max(i for i, line in enumerate(lines) if found.search(line))


def test_a_stopped_job_process_shows_no_progress_and_sigcont_clears_it(
    backend_factory: BackendFactory, panes: list[TmuxPane], tmp_path: Path
) -> None:
    backend = backend_factory(start=False)
    backend.env["KTRDR_EXECUTOR"] = "process"
    backend.start()
    pane = open_pane(
        panes,
        tmp_path,
        backend,
        "model",
        "train",
        "rsi_mean_reversion",
        "--epochs",
        "20000",
        KTRDR_STALL_SECONDS="2",
    )
    pane.wait_for(r"Epoch [\d,]+/20,000")
    jobs = job_processes(backend.pid)
    assert jobs, "no job process under the backend"
    for pid in jobs:
        os.kill(pid, signal.SIGSTOP)
    try:
        lines = pane.wait_for(r"⚠ No progress for \d+ s", timeout=15)
        notice = index_of(lines, r"No progress for")
        assert re.fullmatch(r"   ⚠ No progress for \d+ s", lines[notice]), lines[notice]
        assert re.match(r"   Epoch [\d,]+/20,000", lines[notice - 1]), lines[notice - 1]
        assert lines[notice - 2].startswith("🧠 Training [")
        assert not any(EXIT_LINE.search(line) for line in lines)  # still watching
    finally:
        for pid in jobs:
            os.kill(pid, signal.SIGCONT)

    def cleared(lines: list[str]) -> bool:
        # The newest frame (the last bar drawn) has no notice under it.
        bar = index_of(lines, r"🧠 Training \[")
        return not any("No progress" in line for line in lines[bar:])

    pane.wait_until(cleared, timeout=10, what="the notice cleared after SIGCONT")
    pane.ctrl_c()
    pane.wait_for(r"Cancelled\. Training stopped at epoch [\d,]+/20,000\.")
    assert pane.exit_code() == 130


def test_connection_lost_sits_in_the_step_line_and_ctrl_c_lines_stay_in_order(
    backend: LiveBackend, panes: list[TmuxPane], tmp_path: Path
) -> None:
    pane = open_pane(
        panes,
        tmp_path,
        backend,
        "agent",
        "trigger",
        "--folds",
        "0",
        "-f",
        "--seed",
        "5",
        "--epochs",
        "4000",
    )
    pane.wait_for(r"└─ Epoch [\d,]+/4,000")
    os.kill(backend.pid, signal.SIGSTOP)  # the backend stops answering, keeps its state
    try:
        lines = pane.wait_for(r"Connection lost, retrying", timeout=20)
    finally:
        os.kill(backend.pid, signal.SIGCONT)
    bar = index_of(lines, r"🔬 Research Cycle \[")
    assert lines[bar + 1] == "   ⚠ Connection lost, retrying..."
    assert re.match(r"   └─ Epoch [\d,]+/4,000", lines[bar + 2]), lines[bar + 2]

    def back(lines: list[str]) -> bool:
        top = index_of(lines, r"🔬 Research Cycle \[")
        return lines[top + 1] == "   Training model..."

    pane.wait_until(back, timeout=20, what="the step line back after the backend answered")
    pane.ctrl_c()
    pane.wait_for(r"Cancelled\. Training stopped at epoch [\d,]+/4,000\.")
    code = pane.exit_code()
    lines = pane.screen()
    done = index_of(lines, r"Cancelled\.")
    assert re.fullmatch(r"✓ Cancelled\. Training stopped at epoch [\d,]+/4,000\.", lines[done])
    assert lines[done - 1] == "⚠ Cancelling research cycle..."
    assert code == 130


def test_a_completion_summary_follows_a_blank_line_indented_three_spaces(
    backend: LiveBackend, panes: list[TmuxPane], tmp_path: Path
) -> None:
    pane = open_pane(
        panes, tmp_path, backend, "model", "train", "rsi_mean_reversion", "--epochs", "3"
    )
    assert pane.exit_code(timeout=60) == 0
    lines = pane.screen()
    head = index_of(lines, r"✓ Training complete!")
    assert lines[head] == "✓ Training complete!"
    assert lines[head - 1] == ""
    assert lines[head - 2].startswith("🧠 Training [100%]") or lines[head - 2].startswith("   ")
    assert lines[head + 1].startswith("   Epochs: 3/3 | Val accuracy: ")
    assert lines[head + 2].startswith("   Model:")  # a long path wraps, indented too
    assert lines[head + 3].startswith("   ") or lines[head + 3].startswith("[exit")
    assert "Traceback" not in "\n".join(lines)
