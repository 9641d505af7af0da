"""Research cycles on embedded defaults: wall time per phase, and the verdict per seed.

Runs cycles one after another on a real backend (JSON logs) and reads each phase's start
from the backend's "phase entered" log lines; a phase lasts until the next one starts.

    python -m benchmarks.cycle_phases [--seeds 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from benchmarks.common import median, phase_log, save, table
from tests.support.live_backend import LiveBackend

PHASES = ["designing", "training", "backtesting", "assessing", "completed"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    durations: dict[str, list[float]] = defaultdict(list)
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        backend = LiveBackend(Path(tmp)).start()
        try:
            with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
                for seed in range(args.seeds):
                    started = time.perf_counter()
                    op_id = http.post("/agent/trigger", json={"folds": 0, "seed": seed}).json()[
                        "data"
                    ]["operation_id"]
                    while True:
                        op = http.get(f"/operations/{op_id}").json()["data"]
                        if op["status"] in ("completed", "failed", "cancelled"):
                            break
                        time.sleep(0.05)
                    wall = time.perf_counter() - started
                    starts = dict(phase_log(backend.log_path, op_id))
                    for a, b in zip(PHASES, PHASES[1:], strict=False):
                        if a in starts and b in starts:
                            durations[a].append(starts[b] - starts[a])
                    s = op["result_summary"] or {}
                    outcomes.append(
                        (
                            seed,
                            op["status"],
                            s.get("strategy_name", "-"),
                            s.get("verdict", "-"),
                            s.get("sharpe_ratio"),
                            s.get("max_drawdown"),
                            s.get("trades"),
                            (s.get("benchmark") or {}).get("sharpe_ratio"),
                            wall,
                        )
                    )
        finally:
            backend.stop()
    print(f"Research cycles on embedded defaults, seeds 0..{args.seeds - 1}")
    table(
        [
            (f"{p} (median / max)", f"{median(v):.2f} s / {max(v):.2f} s")
            for p, v in durations.items()
        ]
    )
    walls = [o[-1] for o in outcomes]
    print(f"  whole cycle: median {median(walls):.2f} s, max {max(walls):.2f} s")
    for seed, status, name, verdict, sharpe, dd, trades, bench, _ in outcomes:
        sharpe_text = f"{sharpe:+.2f}" if isinstance(sharpe, float) else "-"
        bench_text = f"{bench:+.2f}" if isinstance(bench, float) else "-"
        dd_text = f"{dd:.0%}" if isinstance(dd, float) else "-"
        print(
            f"  seed {seed}: {status:<9} {verdict:<9} Sharpe {sharpe_text:>6} "
            f"(buy & hold {bench_text:>5})  max DD {dd_text:>4}  trades {trades!s:>4}  {name}"
        )
    save("cycle_phases", {"durations": durations, "outcomes": outcomes})


if __name__ == "__main__":
    main()
