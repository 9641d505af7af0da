"""`--progress json` with the real `ktrdr` command against a real backend on loopback: stdout
read line by line as it arrives, every line one JSON object with the documented keys, every
phase of a research cycle named in order, the result on the last line."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from typing import Any

from ktrdr.cli.views.ndjson import EVENT_NAMES, REQUIRED_KEYS
from tests.support.live_backend import LiveBackend, run_ktrdr

CHILD_KEYS = {"operation_id", "operation_type", "status", "percentage", "step"}


def stream_ktrdr(backend: LiveBackend, *args: str) -> tuple[int, list[tuple[float, str]], float]:
    """Run ``ktrdr`` with stdout piped; (exit code, (arrival time, line) pairs, exit time)."""
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        [sys.executable, "-m", "ktrdr", *args],
        env=backend.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append((time.monotonic(), line))

        reader = threading.Thread(target=read)
        reader.start()
        code = proc.wait(timeout=180)
        ended = time.monotonic()
        reader.join(timeout=10)
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    return code, lines, ended


def parsed(lines: list[tuple[float, str]]) -> list[dict[str, Any]]:
    objects = []
    for _, line in lines:
        assert line.endswith("\n")
        obj = json.loads(line)  # each line on its own is one JSON object
        assert isinstance(obj, dict)
        assert set(REQUIRED_KEYS) <= set(obj), obj
        assert obj["event"] in EVENT_NAMES, obj
        assert obj["ts"].endswith("Z") and datetime.fromisoformat(obj["ts"]).tzinfo is not None
        assert obj["child"] is None or set(obj["child"]) == CHILD_KEYS, obj
        objects.append(obj)
    return objects


def test_a_research_cycle_as_ndjson_names_every_phase_and_ends_with_the_result(
    backend: LiveBackend,
) -> None:
    code, lines, ended = stream_ktrdr(
        backend,
        "agent",
        "trigger",
        "--folds",
        "0",
        "-f",
        "--progress",
        "json",
        "--seed",
        "3",
        "--epochs",
        "150",
    )
    assert code == 0
    events = parsed(lines)
    assert events[0]["event"] == "started"
    cycle_id = events[0]["operation_id"]
    assert all(e["operation_id"] == cycle_id for e in events)
    # Streamed, not buffered to the end: the first line came well before the exit.
    assert ended - lines[0][0] > 0.5, (ended, lines[0][0])
    # The phase it was in when the watch began, then every one after it, passed or not.
    phases = [e["phase"] for e in events if e["event"] in ("started", "phase")]
    assert [p for p in phases if p in ("training", "backtesting", "assessing")] == [
        "training",
        "backtesting",
        "assessing",
    ]
    children = [e for e in events if e["event"] == "child" and e.get("change") == "appeared"]
    assert [c["child"]["operation_type"] for c in children] == ["training", "backtesting"]
    progress = [e for e in events if e["event"] == "progress"]
    assert progress, "no progress lines"
    # A progress line only for a change: no two in a row say the same.
    shown = [(e["percentage"], e["step"], e["child"]) for e in progress]
    assert all(a != b for a, b in zip(shown, shown[1:], strict=False))
    final = events[-1]
    assert final["event"] == "completed" and final["status"] == "completed"
    assert final["percentage"] == 100.0
    assert final["result_summary"]["verdict"] in ("promising", "neutral", "poor")


def test_progress_modes_on_a_finished_training(backend: LiveBackend) -> None:
    started = run_ktrdr(
        backend.env, "model", "train", "rsi_mean_reversion", "--epochs", "3", "--progress", "tty"
    )
    assert started.returncode == 0, started.stderr
    assert "━" in started.stdout  # live bars although stdout is a pipe
    assert "✓ Training complete!" in started.stdout
    with backend.client() as client:
        ops, _ = client.list_operations(operation_type="training", limit=1)
    op_id = ops[0].operation_id

    # Following an operation that already ended: started, then its ending, nothing else.
    followed = run_ktrdr(backend.env, "ops", "follow", op_id, "--progress", "json")
    assert followed.returncode == 0, followed.stderr
    events = parsed([(0.0, line + "\n") for line in followed.stdout.splitlines()])
    assert [e["event"] for e in events] == ["started", "completed"]
    assert events[-1]["result_summary"]["epochs_completed"] == 3

    # --progress wins over --plain; an explicit plain prints plain lines.
    plain = run_ktrdr(backend.env, "ops", "follow", op_id, "--progress", "plain", "--json")
    assert plain.returncode == 0 and plain.stdout.startswith(f"Training {op_id}: completed")
    bad = run_ktrdr(backend.env, "ops", "follow", op_id, "--progress", "loud")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "loud" in bad.stderr
