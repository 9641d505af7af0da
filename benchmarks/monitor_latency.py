"""How long a phase change in the backend takes to reach the monitor's output.

A real backend (JSON logs) and the real `ktrdr agent trigger -f --plain` run several research
cycles. The backend logs "phase entered" with a UTC timestamp just before it records the
phase; the monitor's stdout lines are time-stamped as they arrive. The delay for each phase
change is the first "Phase: ..." line naming it minus the log timestamp (same machine clock).
Phases that pass between two polls never show as a line and are counted as missed.

    python -m benchmarks.monitor_latency [--cycles 10] [--epochs 400]
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

from benchmarks.common import phase_log
from tests.support.live_backend import LiveBackend

STEP_WORDS = {
    "designing": "Designing",
    "training": "Training model",
    "backtesting": "Backtesting",
    "assessing": "Assessing",
    "completed": "Complete",
}


def run_cycle(backend: LiveBackend, seed: int, epochs: int) -> tuple[list[float], int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ktrdr",
            "agent",
            "trigger",
            "-f",
            "--plain",
            "--seed",
            str(seed),
            "--epochs",
            str(epochs),
        ],
        env=backend.env,
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
    for phase, at in phase_log(backend.log_path, op_id):
        word = STEP_WORDS.get(phase)
        if word is None:
            continue
        shown = [t for t, line in lines if line.startswith("Phase:") and word in line]
        if shown:
            delays.append(shown[0] - at)
        else:
            missed += 1
    return delays, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        backend = LiveBackend(Path(tmp)).start()
        try:
            delays: list[float] = []
            missed = 0
            for seed in range(args.cycles):
                d, m = run_cycle(backend, seed, args.epochs)
                delays.extend(d)
                missed += m
        finally:
            backend.stop()
    delays.sort()
    p95 = delays[min(len(delays) - 1, int(round(0.95 * (len(delays) - 1))))] if delays else 0.0
    print(f"phase changes seen: {len(delays)}, passed between polls: {missed}")
    if delays:
        print(
            f"delay backend->screen: median {statistics.median(delays) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms (poll interval 300 ms)"
        )


if __name__ == "__main__":
    main()
