"""GET /api/v1/operations/{id} latency on a real backend: idle, then while a training runs,
once per executor (training in a backend thread, and in a worker process), same run.

python -m benchmarks.api_latency [--requests 500] [--executors thread,process]
"""

from __future__ import annotations

import argparse
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


def measure(executor: str, requests: int) -> tuple[list[float], list[float], float]:
    """(idle latencies, latencies while training, epochs/s trained meanwhile), one backend."""
    with tempfile.TemporaryDirectory() as tmp:
        backend = LiveBackend(Path(tmp))
        backend.env["KTRDR_EXECUTOR"] = executor
        backend.start()
        try:
            with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
                warm = http.post(
                    "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 2}
                )
                warm_id = warm.json()["data"]["operation_id"]
                while http.get(f"/operations/{warm_id}").json()["data"]["status"] in (
                    "pending",
                    "running",
                ):
                    time.sleep(0.05)
                sample(http, warm_id, 50)  # warm-up
                idle = sample(http, warm_id, requests)

                busy_id = http.post(
                    "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 100_000}
                ).json()["data"]["operation_id"]
                while (
                    http.get(f"/operations/{busy_id}").json()["data"]["progress"]["items_processed"]
                    or 0
                ) < 5:
                    time.sleep(0.02)
                before = http.get(f"/operations/{busy_id}").json()["data"]["progress"]
                window = time.perf_counter()
                busy = sample(http, busy_id, requests)
                window = time.perf_counter() - window
                after = http.get(f"/operations/{busy_id}").json()["data"]["progress"]
                http.delete(f"/operations/{busy_id}")
        finally:
            backend.stop()
    epochs = (after["items_processed"] or 0) - (before["items_processed"] or 0)
    return idle, busy, epochs / window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--executors", default="thread,process")
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    rows = []
    baseline_idle: list[float] | None = None
    for executor in args.executors.split(","):
        idle, busy, epochs_per_s = measure(executor, args.requests)
        baseline_idle = baseline_idle or idle
        results[executor] = {"idle_ms": idle, "busy_ms": busy, "epochs_per_s": epochs_per_s}
        rows += [
            (f"{executor}: idle p50 / p99", f"{median(idle):.2f} / {percentile(idle, 99):.2f} ms"),
            (
                f"{executor}: training p50 / p99",
                f"{median(busy):.2f} / {percentile(busy, 99):.2f} ms",
            ),
            (
                f"{executor}: training vs first idle, p50 / p99",
                f"{median(busy) / median(baseline_idle):.2f}x / "
                f"{percentile(busy, 99) / percentile(baseline_idle, 99):.2f}x",
            ),
            (f"{executor}: training speed while sampled", f"{epochs_per_s:.0f} epochs/s"),
        ]
    print(f"GET /operations/{{id}}, {args.requests} sequential keep-alive requests per case")
    table(rows)
    save("api_latency", results)


if __name__ == "__main__":
    main()
