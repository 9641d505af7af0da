"""Hundreds of tree watchers and a running training: how quick the backend's GETs stay, and
the CPU it spends (issue 21, item 16: 500 watchers, GET p99 at most 50 ms, the backend
under one core; and how far past 500 it holds).

Three kinds of process, each on its own:
- a real backend (process executor, one job slot) running a long training, with a second
  training queued behind it;
- the watchers: one process holding N keep-alive connections, each a long-poll loop on
  ``GET /operations/{id}/tree?since=V&wait=25`` as the follower does. ``--watch queued``
  watches the queued training (open, nothing changes: the steady state of many open
  monitors); ``--watch running`` watches the running training (every watcher gets the
  coalesced progress answers, up to 10 a second each);
- the probe: one connection, a GET every 20 ms alternating ``/health`` and
  ``/operations/{id}`` of the running training, timing each.

The backend's CPU is its own process's (not the job process's) user+system time over the
window. A row per watcher count, all in one run, with 0 watchers as the baseline.

    python -m benchmarks.watchers [--watchers 0,100,500,1000,2000] [--seconds 10]
                                  [--watch queued|running]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import percentile, save, table
from tests.support.live_backend import LiveBackend

PROBE_INTERVAL = 0.02


async def _watch_loop(host: str, port: int, op_id: str, until: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    since = 0
    try:
        while time.monotonic() < until:
            writer.write(
                f"GET /api/v1/operations/{op_id}/tree?since={since}&wait=25 HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            if head.startswith(b"HTTP/1.1 200"):
                since = int(json.loads(body)["data"]["version"])
                counts[0] += 1
            elif not head.startswith(b"HTTP/1.1 304"):
                counts[1] += 1
                await asyncio.sleep(0.5)
    finally:
        writer.close()


async def watchers(host: str, port: int, op_id: str, count: int, seconds: float) -> list[int]:
    """[answers with changes, error answers] of ``count`` long-poll loops."""
    counts = [0, 0]
    until = time.monotonic() + seconds
    loops = []
    for _ in range(count):
        loops.append(asyncio.ensure_future(_watch_loop(host, port, op_id, until, counts)))
        await asyncio.sleep(0)  # connect one after another, not in one burst
    await asyncio.gather(*loops, return_exceptions=True)
    return counts


def _probe(base: str, op_id: str, seconds: float) -> list[float]:
    latencies = []
    with httpx.Client(base_url=base, timeout=10) as http:
        until = time.monotonic() + seconds
        paths = ("/api/v1/health", f"/api/v1/operations/{op_id}")
        i = 0
        while time.monotonic() < until:
            start = time.perf_counter()
            http.get(paths[i % 2]).raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)
            i += 1
            time.sleep(max(0.0, PROBE_INTERVAL - (time.perf_counter() - start)))
    return latencies


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    backend: LiveBackend, watched: str, probed: str, count: int, seconds: float
) -> dict[str, Any]:
    settle = min(5.0, 1.0 + count / 250)  # connect them all before the window opens
    host, port = "127.0.0.1", backend.port
    code = (
        "import asyncio; from benchmarks.watchers import watchers; "
        f"print(asyncio.run(watchers({host!r}, {port}, {watched!r}, {count}, "
        f"{settle + seconds + 1})))"
    )
    crowd = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    time.sleep(settle)
    cpu_before, wall_before = _cpu_seconds(backend.pid), time.monotonic()
    probe_code = (
        "import json; from benchmarks.watchers import _probe; "
        f"print(json.dumps(_probe({backend.url!r}, {probed!r}, {seconds})))"
    )
    probe = subprocess.run(
        [sys.executable, "-c", probe_code], capture_output=True, text=True, check=True
    )
    cores = (_cpu_seconds(backend.pid) - cpu_before) / (time.monotonic() - wall_before)
    out, _ = crowd.communicate(timeout=120)
    answers, errors = json.loads(out.strip().splitlines()[-1])
    latencies = json.loads(probe.stdout)
    return {
        "watchers": count,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "backend_cores": cores,
        "answers_per_s": answers / (settle + seconds),
        "errors": errors,
        "probes": len(latencies),
    }


def _started(http: httpx.Client, body: dict[str, object]) -> str:
    reply = http.post("/training/start", json=body)
    reply.raise_for_status()
    return str(reply.json()["data"]["operation_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", default="0,100,500,1000,2000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--watch", choices=("queued", "running"), default="queued")
    args = parser.parse_args()
    counts = [int(c) for c in args.watchers.split(",")]
    # Every watcher is a file in both processes: lift the soft limit as far as allowed.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        backend = LiveBackend(Path(tmp))
        backend.env["KTRDR_WORKERS"] = "1"
        backend.env["KTRDR_MAX_CONNECTIONS"] = str(max(counts) + 200)
        backend.start()
        try:
            with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as http:
                body = {"strategy": "rsi_mean_reversion", "epochs": 100_000}
                running = _started(http, body)
                queued = _started(http, body)
                while http.get(f"/operations/{running}").json()["data"]["status"] != "running":
                    time.sleep(0.1)
                watched = queued if args.watch == "queued" else running
                for count in counts:
                    print(f"{count} watchers ...", flush=True)
                    rows.append(measure(backend, watched, running, count, args.seconds))
        finally:
            backend.stop()
    print(f"GETs while N watchers watch the {args.watch} training and a training runs:")
    table(
        [
            (
                f"{r['watchers']:>5} watchers",
                f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                f"max {r['max_ms']:6.1f} ms  backend {r['backend_cores']:.2f} cores  "
                f"{r['answers_per_s']:7.0f} answers/s  {r['errors']} errors",
            )
            for r in rows
        ]
    )
    held = [r["watchers"] for r in rows if r["p99_ms"] <= 50 and r["backend_cores"] < 1.0]
    print(f"  holds (p99 <= 50 ms, < 1 core) up to {max(held) if held else 0} watchers")
    save(f"watchers_{args.watch}", {"rows": rows, "args": vars(args)})


if __name__ == "__main__":
    main()
