"""Run every benchmark: python -m benchmarks [--quick]."""

from __future__ import annotations

import subprocess
import sys

QUICK = {
    "ops_progress": ["--calls", "2000"],
    "ops_history": ["--cycles", "5000", "--requests", "100"],
    "backtest_speed": ["--bars", "200000"],
    "training_overhead": ["--epochs", "60", "--repeats", "3"],
    "api_latency": ["--requests", "200"],
    "monitor_latency": ["--cycles", "3"],
    "cycle_phases": ["--seeds", "3"],
    "cli_startup": ["--runs", "5"],
    "watch_requests": ["--seconds", "20", "--warmup", "10"],
    "cluster_scaling": ["--trainings", "4", "--epochs", "20", "--starts", "3"],
    "page_load": ["--loads", "5", "--cycles", "2"],
    "walk_forward": ["--folds", "2", "--candidates", "2", "--epochs", "10", "--seeds", "1"],
    "imports": ["--megabytes", "10"],
    "read_throughput": ["--seconds", "1", "--rounds", "1"],
    "watchers": ["--watchers", "0,500", "--seconds", "3"],
    "webhook_latency": ["--trainings", "10"],
}


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    failed = []
    for name, quick_args in QUICK.items():
        print(f"\n=== {name} ===", flush=True)
        args = quick_args if quick else []
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *args])
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
