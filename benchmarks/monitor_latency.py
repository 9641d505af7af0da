"""How long a phase change in the backend takes to reach the monitor's output: the old
polling monitor against the long-poll follower, on the same backend in the same run.

A real backend (JSON logs) and the real `ktrdr agent trigger -f --plain` run research
cycles, alternating between the current client and this repository's package at
POLLING_MONITOR_COMMIT (the monitor that polled every 300 ms). The backend logs "phase
entered" with a UTC timestamp just before it records the phase; the monitor's stdout lines
are time-stamped as they arrive. The delay for each phase change is the first "Phase: ..."
line naming it minus the log timestamp (same machine clock). Phases that pass between two
polls never show as a line and are counted as missed. The first phase shown is left out:
the monitor is still starting then (the CLI triggered the cycle itself a moment before), so
its delay is start-up, not delivery. Issue 12's goal: p95 <= 50 ms.

    python -m benchmarks.monitor_latency [--cycles 10] [--epochs 400] [--executor process]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import POLLING_MONITOR_COMMIT, phase_log, previous_client, save
from tests.support.live_backend import LiveBackend

STEP_WORDS = {
    "designing": "Designing",
    "training": "Training model",
    "backtesting": "Backtesting",
    "assessing": "Assessing",
    "completed": "Complete",
}


def run_cycle(
    backend: LiveBackend, seed: int, epochs: int, old_package: Path | None
) -> tuple[list[float], int]:
    env = dict(backend.env)
    if old_package is not None:
        env["PYTHONPATH"] = str(old_package)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ktrdr",
            "agent",
            "trigger",
            "--folds",
            "0",
            "-f",
            "--plain",
            "--seed",
            str(seed),
            "--epochs",
            str(epochs),
        ],
        env=env,
        cwd=tempfile.gettempdir(),  # not the checkout: its ktrdr would shadow the old one
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[tuple[float, str]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.time(), line.rstrip("\n")))

    reader = threading.Thread(target=read)
    reader.start()
    proc.wait(timeout=300)
    reader.join(timeout=10)
    op_id = next(line.split()[2].rstrip(":") for _, line in lines if line.startswith("Research"))
    delays: list[float] = []
    missed = 0
    phase_lines = [(t, line) for t, line in lines if line.startswith("Phase:")]
    # The first answer reaches a monitor that is still starting (the CLI triggered the cycle
    # itself a moment before): its delay is start-up, not delivery, and is left out.
    attached = phase_lines[0][0] if phase_lines else float("inf")
    for phase, at in phase_log(backend.log_path, op_id):
        word = STEP_WORDS.get(phase)
        if word is None:
            continue
        shown = [t for t, line in phase_lines if word in line]
        if shown and shown[0] <= attached:
            continue
        if shown:
            delays.append(shown[0] - at)
        elif at > attached:
            missed += 1
    return delays, missed


def _report(label: str, delays: list[float], missed: int) -> dict[str, float]:
    delays = sorted(delays)
    p95 = delays[min(len(delays) - 1, int(round(0.95 * (len(delays) - 1))))] if delays else 0.0
    med = statistics.median(delays) if delays else 0.0
    print(
        f"{label:<12} phase changes seen {len(delays)}, passed unseen {missed}; "
        f"backend->screen median {med * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {(delays[-1] if delays else 0.0) * 1000:.0f} ms"
    )
    return {"seen": len(delays), "missed": missed, "median_s": med, "p95_s": p95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--executor", choices=("thread", "process"), default="thread")
    args = parser.parse_args()
    sides: dict[str, tuple[list[float], int]] = {"old polling": ([], 0), "long-poll": ([], 0)}
    with tempfile.TemporaryDirectory() as tmp:
        old = previous_client(POLLING_MONITOR_COMMIT, Path(tmp) / "old")
        (Path(tmp) / "run").mkdir()
        backend = LiveBackend(Path(tmp) / "run")
        backend.env["KTRDR_EXECUTOR"] = args.executor
        backend.start()
        try:
            for seed in range(args.cycles):
                for label, package in (("old polling", old), ("long-poll", None)):
                    d, m = run_cycle(backend, seed, args.epochs, package)
                    delays, missed = sides[label]
                    sides[label] = (delays + d, missed + m)
        finally:
            backend.stop()
    results = {label: _report(label, d, m) for label, (d, m) in sides.items()}
    print("goal: long-poll p95 <= 50 ms")
    save("monitor_latency", results)


if __name__ == "__main__":
    main()
