"""Scale out: trainings on a Dask cluster, measured on a real backend, in one run.

* **Scaling**: the same N trainings (default 8) on a ``LocalCluster`` of 1 worker process,
  then of 2, each worker single-threaded (``KTRDR_DASK_SCHEDULER=local:1`` / ``local:2``):
  wall time from the first submit to the last completion, and the throughput ratio.
  ``KTRDR_WORKERS`` is N so the backend hands every training to the cluster at once and
  the cluster's own slots decide how many run together.
* **Overhead per job**: submit (the ``POST /training/start`` answer) to the first progress
  report the service records (the operation's ``current_step`` first set), per executor:
  ``process`` (a fork-server worker process) and ``dask`` (a task on an already running
  local cluster). Sampled by polling ``GET /operations/{id}`` every ~2 ms on loopback, so
  the figure carries up to one poll of error.

    python -m benchmarks.cluster_scaling [--trainings 8] [--epochs 40] [--starts 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import median, percentile, save, table
from tests.support.live_backend import LiveBackend

STRATEGY = "rsi_mean_reversion"
TERMINAL = {"completed", "failed", "cancelled"}


def backend(tmp: Path, executor: str, scheduler: str | None, workers: int) -> LiveBackend:
    live = LiveBackend(tmp)
    live.env["KTRDR_EXECUTOR"] = executor
    live.env["KTRDR_WORKERS"] = str(workers)
    if scheduler is not None:
        live.env["KTRDR_DASK_SCHEDULER"] = scheduler
    return live.start()


def wait_all(http: httpx.Client, ids: list[str], timeout: float = 600) -> list[str]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        for op_id in ids:
            if statuses.get(op_id) not in TERMINAL:
                statuses[op_id] = http.get(f"/operations/{op_id}").json()["data"]["status"]
        if all(s in TERMINAL for s in statuses.values()) and len(statuses) == len(ids):
            return [statuses[i] for i in ids]
        time.sleep(0.1)
    raise TimeoutError(f"trainings still open after {timeout} s: {statuses}")


def start_training(http: httpx.Client, epochs: int) -> str:
    reply = http.post("/training/start", json={"strategy": STRATEGY, "epochs": epochs})
    reply.raise_for_status()
    return str(reply.json()["data"]["operation_id"])


def batch_seconds(workers: int, trainings: int, epochs: int) -> float:
    """Wall seconds for ``trainings`` trainings on a local cluster of ``workers`` workers."""
    with tempfile.TemporaryDirectory() as tmp:
        live = backend(Path(tmp), "dask", f"local:{workers}", trainings)
        try:
            with httpx.Client(base_url=f"{live.url}/api/v1", timeout=30) as http:
                # One warm-up training: worker processes import the engines once.
                wait_all(http, [start_training(http, 2)])
                begin = time.perf_counter()
                ids = [start_training(http, epochs) for _ in range(trainings)]
                statuses = wait_all(http, ids)
                seconds = time.perf_counter() - begin
                if set(statuses) != {"completed"}:
                    raise RuntimeError(f"not every training completed: {statuses}")
                return seconds
        finally:
            live.stop()


def first_report_ms(executor: str, scheduler: str | None, starts: int) -> list[float]:
    """Submit → first recorded progress report, ``starts`` times on one warm backend."""
    delays: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        live = backend(Path(tmp), executor, scheduler, 2)
        try:
            with httpx.Client(base_url=f"{live.url}/api/v1", timeout=30) as http:
                wait_all(http, [start_training(http, 2)])  # warm-up
                for _ in range(starts):
                    submitted = time.perf_counter()
                    op_id = start_training(http, 3)
                    while True:
                        data = http.get(f"/operations/{op_id}").json()["data"]
                        if data["progress"].get("current_step") or data["status"] in TERMINAL:
                            break
                        time.sleep(0.002)
                    delays.append((time.perf_counter() - submitted) * 1000)
                    wait_all(http, [op_id])
        finally:
            live.stop()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainings", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--starts", type=int, default=10)
    args = parser.parse_args()

    one = batch_seconds(1, args.trainings, args.epochs)
    two = batch_seconds(2, args.trainings, args.epochs)
    process = first_report_ms("process", None, args.starts)
    dask = first_report_ms("dask", "local:2", args.starts)

    print(f"{args.trainings} trainings of {args.epochs} epochs on a LocalCluster")
    rows = [
        ("1 worker", f"{one:.1f} s ({args.trainings / one * 60:.1f} trainings/min)"),
        ("2 workers", f"{two:.1f} s ({args.trainings / two * 60:.1f} trainings/min)"),
        ("throughput 2 vs 1 worker", f"{one / two:.2f}x (goal >= 1.6x)"),
        (
            "submit -> first report, process",
            f"median {median(process):.0f} ms, p95 {percentile(process, 95):.0f} ms",
        ),
        (
            "submit -> first report, dask",
            f"median {median(dask):.0f} ms, p95 {percentile(dask, 95):.0f} ms",
        ),
    ]
    table(rows)
    path = save(
        "cluster_scaling",
        {
            "trainings": args.trainings,
            "epochs": args.epochs,
            "seconds_1_worker": one,
            "seconds_2_workers": two,
            "throughput_ratio": one / two,
            "first_report_ms_process": process,
            "first_report_ms_dask": dask,
        },
    )
    print(f"(saved to {path})")


if __name__ == "__main__":
    main()
