"""GET /api/v1/operations/{id} latency on a real backend: idle, then while a training runs,
per executor (training in a backend thread, or in a worker process) and per BLAS/OpenMP
thread cap, all in the same run.

"capped" is the default KTRDR_JOB_THREADS (every core but one); "uncapped" sets it to
every core, which is what numpy and scikit-learn use when nobody limits them.

python -m benchmarks.api_latency [--requests 500] [--executors thread,process]
                                 [--caps capped,uncapped] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import median, percentile, save, table
from tests.support.live_backend import LiveBackend


def sample(http: httpx.Client, op_id: str, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        reply = http.get(f"/operations/{op_id}")
        latencies.append((time.perf_counter() - start) * 1000)
        reply.raise_for_status()
    return latencies


def finish(http: httpx.Client, op_id: str) -> None:
    while http.get(f"/operations/{op_id}").json()["data"]["status"] in ("pending", "running"):
        time.sleep(0.05)


def measure(
    executor: str, job_threads: int | None, requests: int, rounds: int
) -> tuple[list[float], list[float], float]:
    """(idle latencies, latencies while training, epochs/s trained meanwhile), one backend.

    Idle and busy windows alternate ``rounds`` times (a fresh training each busy window),
    so a change in the machine's other load falls on both sides alike.
    """
    idle: list[float] = []
    busy: list[float] = []
    epochs, seconds = 0, 0.0
    per_window = max(1, requests // rounds)
    with tempfile.TemporaryDirectory() as tmp:
        backend = LiveBackend(Path(tmp))
        backend.env["KTRDR_EXECUTOR"] = executor
        if job_threads is not None:
            backend.env["KTRDR_JOB_THREADS"] = str(job_threads)
        backend.start()
        try:
            with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
                warm = http.post(
                    "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 2}
                )
                warm_id = warm.json()["data"]["operation_id"]
                finish(http, warm_id)
                sample(http, warm_id, 50)  # warm-up
                for _ in range(rounds):
                    idle += sample(http, warm_id, per_window)
                    busy_id = http.post(
                        "/training/start",
                        json={"strategy": "rsi_mean_reversion", "epochs": 100_000},
                    ).json()["data"]["operation_id"]
                    while (
                        http.get(f"/operations/{busy_id}").json()["data"]["progress"][
                            "items_processed"
                        ]
                        or 0
                    ) < 5:
                        time.sleep(0.02)
                    before = http.get(f"/operations/{busy_id}").json()["data"]["progress"]
                    window = time.perf_counter()
                    busy += sample(http, busy_id, per_window)
                    seconds += time.perf_counter() - window
                    after = http.get(f"/operations/{busy_id}").json()["data"]["progress"]
                    epochs += (after["items_processed"] or 0) - (before["items_processed"] or 0)
                    http.delete(f"/operations/{busy_id}")
                    finish(http, busy_id)
        finally:
            backend.stop()
    return idle, busy, epochs / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--executors", default="thread,process")
    parser.add_argument("--caps", default="capped,uncapped")
    parser.add_argument("--rounds", type=int, default=3, help="idle/busy windows per case")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    threads_for = {"capped": None, "uncapped": cores}  # None: the setting's default
    results: dict[str, dict[str, object]] = {}
    rows = []
    summary = []
    for executor in args.executors.split(","):
        for cap in args.caps.split(","):
            case = f"{executor}, {cap}"
            idle, busy, epochs_per_s = measure(
                executor, threads_for[cap], args.requests, args.rounds
            )
            ratio = percentile(busy, 99) / percentile(idle, 99)
            results[case] = {
                "idle_ms": idle,
                "busy_ms": busy,
                "epochs_per_s": epochs_per_s,
                "p99_ratio": ratio,
            }
            rows += [
                (
                    f"{case}: idle p50 / p99",
                    f"{median(idle):.2f} / {percentile(idle, 99):.2f} ms",
                ),
                (
                    f"{case}: training p50 / p99",
                    f"{median(busy):.2f} / {percentile(busy, 99):.2f} ms",
                ),
                (f"{case}: training p99 / idle p99", f"{ratio:.2f}x (goal <= 2x)"),
                (f"{case}: training speed while sampled", f"{epochs_per_s:.1f} epochs/s"),
            ]
            summary.append(
                (
                    case,
                    f"training/idle p50 {median(busy) / median(idle):.2f}x, p99 {ratio:.2f}x; "
                    f"{epochs_per_s:.1f} epochs/s",
                )
            )
    print(
        f"GET /operations/{{id}}, {args.requests} sequential keep-alive requests per case, "
        f"{cores} cores (capped = {max(1, cores - 1)} job thread(s), uncapped = {cores})"
    )
    table(rows)
    print("Summary")
    table(summary)
    save("api_latency", results)


if __name__ == "__main__":
    main()
