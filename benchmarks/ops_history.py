"""A backend with a long history: start time, memory and listing latency, today vs before.

Builds a SQLite database of ``--cycles`` research cycles with their training and backtest
children (three operations each; bodies cloned from a real cycle run first, so every row
is as big as a real one), then starts a real backend on it twice in the same run: this
checkout, and the code at ``--baseline-ref`` (the commit before history moved to disk),
checked out into a temporary worktree. Each is measured from the outside:

* start: process launch until ``/health`` answers, beside the same launch on an empty
  database (that part is Python importing the libraries, not history);
* resident memory (VmRSS, and the peak VmHWM) after start and after the listing load;
* p50/p99 of ``ops list`` (GET /operations?limit=100), ``agent results``
  (GET /operations?operation_type=agent_research&limit=20) and ``agent status``
  (GET /agent/status), and the bytes an ``ops list`` page sends.

python -m benchmarks.ops_history [--cycles 70000] [--requests 300] [--baseline-ref REF]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import percentile, save, table
from ktrdr.records.models import Operation, OperationMetadata
from ktrdr.storage.sqlite_store import SqliteOperationStore
from tests.support.live_backend import LiveBackend, free_port

ROOT = Path(__file__).resolve().parent.parent
BASELINE_REF = "40e11e5"  # main before "history stays on disk"
BATCH = 3000


def template_cycle(work: Path) -> tuple[Operation, Operation, Operation]:
    """Run one real (short) research cycle and return its three operations, whole."""
    backend = LiveBackend(work / "template")
    backend.root.mkdir(parents=True)
    backend.start()
    try:
        with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as http:
            started = http.post("/agent/trigger", json={"folds": 0, "seed": 3, "epochs": 20}).json()
            cycle_id = started["data"]["operation_id"]
            deadline = time.monotonic() + 300
            while True:
                cycle = http.get(f"/operations/{cycle_id}").json()["data"]
                if cycle["status"] not in ("pending", "running"):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the template cycle did not finish")
                time.sleep(0.2)
            if cycle["status"] != "completed":
                raise RuntimeError(f"template cycle ended {cycle['status']}")
            params = cycle["metadata"]["parameters"]
            training = http.get(f"/operations/{params['training_op_id']}").json()["data"]
            backtest = http.get(f"/operations/{params['backtest_op_id']}").json()["data"]
    finally:
        backend.kill()
    return (
        Operation.model_validate(cycle),
        Operation.model_validate(training),
        Operation.model_validate(backtest),
    )


def clone(op: Operation, operation_id: str, parent: str | None, at: datetime) -> Operation:
    return op.model_copy(
        update={
            "operation_id": operation_id,
            "parent_operation_id": parent,
            "created_at": at,
            "started_at": at,
            "updated_at": at + timedelta(seconds=1),
            "completed_at": at + timedelta(seconds=1),
        }
    )


def build_database(path: Path, cycles: int, templates: tuple[Operation, ...]) -> None:
    cycle_t, training_t, backtest_t = templates
    store = SqliteOperationStore(path)
    base = datetime(2020, 1, 1, tzinfo=UTC)
    batch: list[Operation] = []
    try:
        for n in range(cycles):
            at = base + timedelta(seconds=10 * n)
            stamp = f"{at:%Y%m%d_%H%M%S}_{n:08x}"
            cycle_id, train_id, bt_id = (
                f"op_agent_research_{stamp}",
                f"op_training_{stamp}",
                f"op_backtesting_{stamp}",
            )
            params = {
                **cycle_t.metadata.parameters,
                "training_op_id": train_id,
                "backtest_op_id": bt_id,
            }
            cycle = clone(cycle_t, cycle_id, None, at).model_copy(
                update={"metadata": OperationMetadata(parameters=params)}
            )
            batch += [
                cycle,
                clone(training_t, train_id, cycle_id, at + timedelta(seconds=1)),
                clone(backtest_t, bt_id, cycle_id, at + timedelta(seconds=2)),
            ]
            if len(batch) >= BATCH:
                store.save_many(batch)
                batch = []
        store.save_many(batch)
    finally:
        store.close()


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def start_backend(
    code: Path, data_dir: Path, log: Path
) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    env.update(
        KTRDR_HOST="127.0.0.1",
        KTRDR_PORT=str(port),
        KTRDR_DATA_DIR=str(data_dir),
        KTRDR_LOG_FORMAT="json",
        PYTHONPATH=str(code),
    )
    url = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ktrdr", "server", "start"],
            cwd=code,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    with httpx.Client(timeout=2) as http:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"backend exited; see {log}")
            try:
                if http.get(f"{url}/api/v1/health").status_code == 200:
                    return proc, url, time.perf_counter() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.02)


def latencies(http: httpx.Client, path: str, requests: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(requests):
        start = time.perf_counter()
        reply = http.get(path)
        times.append((time.perf_counter() - start) * 1000)
        reply.raise_for_status()
        size = len(reply.content)
    return times, size


READS = {
    "ops list": "/operations?limit=100",
    "agent results": "/operations?operation_type=agent_research&limit=20",
    "agent status": "/agent/status",
}


def measure(code: Path, data_dir: Path, empty_dir: Path, requests: int) -> dict[str, Any]:
    log = data_dir.parent / f"{code.name}.log"
    proc, _, empty_start = start_backend(code, empty_dir, log)
    proc.kill()
    proc.wait()
    proc, url, start = start_backend(code, data_dir, log)
    try:
        rss_start, _ = rss_kib(proc.pid)
        result: dict[str, Any] = {
            "start_s": start,
            "empty_db_start_s": empty_start,
            "rss_after_start_mib": rss_start / 1024,
        }
        with httpx.Client(base_url=f"{url}/api/v1", timeout=120) as http:
            for name, path in READS.items():
                latencies(http, path, 5)  # warm-up
                times, size = latencies(http, path, requests)
                result[name] = {
                    "p50_ms": percentile(times, 50),
                    "p99_ms": percentile(times, 99),
                    "bytes": size,
                }
        rss_end, peak = rss_kib(proc.pid)
        result["rss_after_reads_mib"] = rss_end / 1024
        result["peak_rss_mib"] = peak / 1024
        return result
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=70_000, help="cycles (x3 operations)")
    parser.add_argument("--requests", type=int, default=300, help="requests per read")
    parser.add_argument("--baseline-ref", default=BASELINE_REF)
    parser.add_argument("--no-baseline", action="store_true", help="measure this checkout only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ktrdr-history-") as tmp:
        work = Path(tmp)
        print("running one real cycle for the operation bodies...", flush=True)
        templates = template_cycle(work)
        data_dir, empty_dir = work / "data", work / "empty"
        empty_dir.mkdir()
        began = time.perf_counter()
        build_database(data_dir / "ktrdr.db", args.cycles, templates)
        db_bytes = (data_dir / "ktrdr.db").stat().st_size
        print(
            f"built {3 * args.cycles:,} operations ({db_bytes / 2**30:.2f} GiB) in "
            f"{time.perf_counter() - began:.0f} s",
            flush=True,
        )
        results: dict[str, Any] = {"operations": 3 * args.cycles, "db_bytes": db_bytes}
        results["now"] = measure(ROOT, data_dir, empty_dir, args.requests)
        if not args.no_baseline:
            baseline = work / "baseline"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(baseline), args.baseline_ref],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            try:
                # The old code reads the same rows; give it the indexes it would have built.
                with sqlite3.connect(data_dir / "ktrdr.db") as conn:
                    conn.execute(
                        "CREATE INDEX IF NOT EXISTS ix_operations_parent "
                        "ON operations(parent_operation_id)"
                    )
                    conn.execute(
                        "CREATE INDEX IF NOT EXISTS ix_operations_created ON operations(created_at)"
                    )
                (empty_dir / "ktrdr.db").unlink(missing_ok=True)
                results["before"] = measure(baseline, data_dir, empty_dir, args.requests)
            finally:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(baseline)],
                    cwd=ROOT,
                    capture_output=True,
                )
                shutil.rmtree(baseline, ignore_errors=True)
    report(results)
    save("ops_history", results)


def report(results: dict[str, Any]) -> None:
    runs = [r for r in ("now", "before") if r in results]
    print(f"\n{results['operations']:,} operations, {results['db_bytes'] / 2**30:.2f} GiB database")
    rows: list[tuple[str, str]] = []

    def line(label: str, fmt: str, pick: Any) -> None:
        values = [fmt.format(pick(results[r])) for r in runs]
        rows.append((label, "  |  ".join(f"{r}: {v}" for r, v in zip(runs, values, strict=True))))

    line("start (launch to /health)", "{:.2f} s", lambda r: r["start_s"])
    line("  same launch, empty database", "{:.2f} s", lambda r: r["empty_db_start_s"])
    line("resident memory after start", "{:.0f} MiB", lambda r: r["rss_after_start_mib"])
    line("resident memory after the reads", "{:.0f} MiB", lambda r: r["rss_after_reads_mib"])
    line("peak resident memory", "{:.0f} MiB", lambda r: r["peak_rss_mib"])
    for name in READS:
        line(
            f"{name} p50 / p99",
            "{}",
            lambda r, n=name: f"{r[n]['p50_ms']:.1f} / {r[n]['p99_ms']:.1f} ms",
        )
    line("ops list page size", "{:,} bytes", lambda r: r["ops list"]["bytes"])
    table(rows)


if __name__ == "__main__":
    main()
