"""GET /api/v1/operations/{id} latency on a real backend: idle, then while a training runs.

python -m benchmarks.api_latency [--requests 500]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        backend = LiveBackend(Path(tmp)).start()
        try:
            with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
                warm = http.post(
                    "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 2}
                )
                warm_id = warm.json()["data"]["operation_id"]
                while http.get(f"/operations/{warm_id}").json()["data"]["status"] == "running":
                    time.sleep(0.05)
                sample(http, warm_id, 50)  # warm-up
                idle = sample(http, warm_id, args.requests)

                busy_id = http.post(
                    "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 100_000}
                ).json()["data"]["operation_id"]
                while (
                    http.get(f"/operations/{busy_id}").json()["data"]["progress"]["items_processed"]
                    or 0
                ) < 5:
                    time.sleep(0.02)
                before = http.get(f"/operations/{busy_id}").json()["data"]["progress"]
                busy = sample(http, busy_id, args.requests)
                after = http.get(f"/operations/{busy_id}").json()["data"]["progress"]
                http.delete(f"/operations/{busy_id}")
        finally:
            backend.stop()
    epochs = (after["items_processed"] or 0) - (before["items_processed"] or 0)
    rows = [
        ("idle p50 / p99", f"{median(idle):.2f} ms / {percentile(idle, 99):.2f} ms"),
        ("training running p50 / p99", f"{median(busy):.2f} ms / {percentile(busy, 99):.2f} ms"),
        (
            "ratio busy/idle p50 / p99",
            f"{median(busy) / median(idle):.2f}x / "
            f"{percentile(busy, 99) / percentile(idle, 99):.2f}x",
        ),
        ("epochs trained during the busy window", f"{epochs:,}"),
    ]
    print(f"GET /operations/{{id}}, {args.requests} sequential keep-alive requests")
    table(rows)
    save("api_latency", {"idle_ms": idle, "busy_ms": busy, "epochs_during_busy": epochs})


if __name__ == "__main__":
    main()
