"""How many requests watching costs: the old polling monitor against the long-poll follower.

A real backend (process executor, one job slot) and the real `ktrdr ops follow --plain`,
each client talking through its own counting proxy on loopback, for the same wall time:

* idle: a research cycle in its training phase whose job processes are stopped (SIGSTOP):
  nothing in the tree changes at all;
* progressing: the same cycle resumed: its training's percentage moves many times a second
  but the cycle's phase does not (coalesced progress answers are the only traffic the new
  follower should cause).

The old client is this repository's package at POLLING_MONITOR_COMMIT, run beside the
current one in the same run. Issue 12's goal: idle <= 2 requests a minute; progressing
<= 2 plus the coalesced progress answers (at most 10 a second).

    python -m benchmarks.watch_requests [--seconds 60] [--warmup 45]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.common import POLLING_MONITOR_COMMIT, previous_client, save, table
from tests.support.live_backend import LiveBackend, free_port
from tests.support.processes import descendants

REQUEST_LINE = re.compile(rb"(?:GET|POST|DELETE|PUT|PATCH) \S+ HTTP/1\.[01]\r\n")


class CountingProxy:
    """Forwards loopback TCP to the backend, counting the HTTP requests it carries and
    naming the backend's own address in their Host header."""

    def __init__(self, backend_port: int) -> None:
        self.backend_port = backend_port
        self.port = free_port()
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._thread.join(5)

    async def _shutdown(self) -> None:
        """End every open connection's forwarding, then the loop (from inside it)."""
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        self._loop.call_soon(self._loop.stop)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.run_until_complete(server.wait_closed())
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            writer.close()
            return

        own_host = f"Host: 127.0.0.1:{self.port}".encode()
        backend_host = f"Host: 127.0.0.1:{self.backend_port}".encode()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            try:
                while chunk := await src.read(65536):
                    if count:
                        self.requests += len(REQUEST_LINE.findall(chunk))
                        # The backend accepts only its own address as Host (DNS rebinding).
                        chunk = chunk.replace(own_host, backend_host)
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))
        except asyncio.CancelledError:  # the proxy is closing: the connection just ends
            writer.close()
            up_writer.close()


def follow_for(
    backend: LiveBackend, op_id: str, seconds: float, warmup: float, old_package: Path | None
) -> tuple[float, float]:
    """Requests a minute that `ktrdr ops follow` made: over its first ``warmup`` seconds
    (start, first answers, the held wait growing), then over the ``seconds`` after."""
    with CountingProxy(backend.port) as proxy:
        env = {**backend.env, "KTRDR_API_URL": f"http://127.0.0.1:{proxy.port}"}
        if old_package is not None:
            env["PYTHONPATH"] = str(old_package)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ktrdr", "ops", "follow", op_id, "--plain"],
            env=env,
            cwd=tempfile.gettempdir(),  # not the checkout: its ktrdr would shadow the old one
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(warmup)
        at_warmup = proxy.requests
        time.sleep(seconds)
        steady = proxy.requests - at_warmup
        # SIGTERM, not Ctrl+C: the monitor turns SIGINT into a cancel of the operation.
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        if proc.returncode not in (0, -signal.SIGTERM):
            raise SystemExit(f"follow exited {proc.returncode}: {err.decode()[-500:]}")
        return at_warmup * 60.0 / warmup, steady * 60.0 / seconds


def _training_moves(http: httpx.Client, cycle_id: str) -> bool:
    """Whether the cycle is in its training phase and the training reports progress."""
    cycle = http.get(f"/operations/{cycle_id}").json()["data"]
    child = cycle["metadata"]["parameters"].get("training_op_id")
    if cycle["metadata"]["parameters"].get("phase") != "training" or not child:
        return False
    return bool(http.get(f"/operations/{child}").json()["data"]["progress"]["percentage"] > 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=45.0, help="followed before it")
    args = parser.parse_args()
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        old = previous_client(POLLING_MONITOR_COMMIT, Path(tmp) / "old")
        (Path(tmp) / "run").mkdir()
        backend = LiveBackend(Path(tmp) / "run")
        backend.env.update({"KTRDR_EXECUTOR": "process", "KTRDR_WORKERS": "1"})
        backend.start()
        stopped: list[int] = []
        try:
            with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as http:
                op_id = http.post(
                    "/agent/trigger", json={"folds": 0, "seed": 1, "epochs": 100_000}
                ).json()["data"]["operation_id"]
                deadline = time.monotonic() + 120
                while not _training_moves(http, op_id):
                    if time.monotonic() > deadline:
                        raise SystemExit("the cycle's training never started")
                    time.sleep(0.1)
                stopped = descendants(backend.pid)
                for pid in stopped:
                    os.kill(pid, signal.SIGSTOP)
                for label, package in (("old polling", old), ("long-poll", None)):
                    results[f"idle, {label}"] = follow_for(
                        backend, op_id, args.seconds, args.warmup, package
                    )
                for pid in stopped:
                    os.kill(pid, signal.SIGCONT)
                stopped = []
                for label, package in (("old polling", old), ("long-poll", None)):
                    results[f"progressing, {label}"] = follow_for(
                        backend, op_id, args.seconds, args.warmup, package
                    )
                status = http.get(f"/operations/{op_id}").json()["data"]["status"]
                if status != "running":
                    raise SystemExit(f"the cycle stopped ({status}) while it was watched")
                http.delete(f"/operations/{op_id}")
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            backend.stop()
    table(
        [
            (name, f"{steady:6.1f} requests/min (first {args.warmup:.0f} s: {first:.1f}/min)")
            for name, (first, steady) in results.items()
        ]
    )
    print("goal: idle <= 2/min; progressing <= 2/min + coalesced progress answers (<= 600/min)")
    save("watch_requests", results)


if __name__ == "__main__":
    main()
