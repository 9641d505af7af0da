"""How many reads of one ended operation a second the backend serves, per kind, against a
bare FastAPI endpoint answering the very same document under the same uvicorn (issue 21,
item 17: goal at least 0.9x for every kind).

Both servers run as subprocesses on loopback, one at a time, and a third process drives
them: ``--connections`` keep-alive connections, each sending its next GET as soon as the
last answer is in, for ``--seconds``. The targets are measured in rounds, alternating, so
any drift in the machine's load falls on every side alike; the best round of each counts.

The operations are real: a training, a backtest, a classic research cycle and a
walk-forward research cycle run to completion on the bundled data first.

    python -m benchmarks.read_throughput [--seconds 3] [--rounds 3] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from benchmarks.common import save, table
from tests.support.live_backend import LiveBackend, free_port

KINDS = ("backtest", "training", "research cycle (classic)", "research cycle (walk-forward)")

# The baseline: FastAPI, one route per document, returning the parsed document as a dict
# (what an endpoint with no work of its own to do costs under the same uvicorn).
BARE_APP = textwrap.dedent(
    """
    import json, sys
    import uvicorn
    from fastapi import FastAPI

    documents = json.load(open(sys.argv[1]))
    app = FastAPI()

    @app.get("/doc/{index}")
    def doc(index: int) -> dict:
        return documents[index]

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=False,
                log_level="warning")
    """
)


async def _drive(host: str, port: int, path: str, seconds: float, connections: int) -> int:
    """Answers received in ``seconds`` over ``connections`` keep-alive connections."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    deadline = time.perf_counter() + seconds
    done = 0

    async def one() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head[:200].decode(errors="replace"))
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return done


def load(url: str, seconds: float, connections: int) -> float:
    """Requests a second, driven from a separate process (so the driver never shares the
    server's event loop or GIL)."""
    parsed = httpx.URL(url)
    code = (
        "import asyncio, sys; from benchmarks.read_throughput import _drive; "
        f"print(asyncio.run(_drive({parsed.host!r}, {parsed.port}, {parsed.raw_path.decode()!r}, "
        f"{seconds}, {connections})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return int(out.stdout.strip()) / seconds


def _finished(client: httpx.Client, op_id: str) -> dict[str, object]:
    while True:
        data: dict[str, object] = client.get(f"/operations/{op_id}").json()["data"]
        if data["status"] not in ("pending", "running"):
            if data["status"] != "completed":
                raise RuntimeError(f"{op_id} ended {data['status']}: {data.get('error_message')}")
            return data
        time.sleep(0.2)


def real_operations(backend: LiveBackend) -> dict[str, str]:
    """One ended operation of each kind, run for real on the bundled data."""
    ids: dict[str, str] = {}
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as client:
        started = client.post(
            "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": 20}
        ).json()["data"]["operation_id"]
        training = _finished(client, started)
        ids["training"] = started
        model = training["result_summary"]["model_path"]  # type: ignore[index]
        started = client.post("/backtests/start", json={"model": model}).json()["data"]
        ids["backtest"] = started["operation_id"]
        _finished(client, ids["backtest"])
        for kind, body in (
            ("research cycle (classic)", {"folds": 0, "epochs": 20, "seed": 7}),
            (
                "research cycle (walk-forward)",
                {"folds": 3, "candidates": 3, "epochs": 20, "seed": 7},
            ),
        ):
            started = client.post("/agent/trigger", json=body).json()["data"]
            ids[kind] = started["operation_id"]
            _finished(client, ids[kind])
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        backend = LiveBackend(root).start()
        try:
            print("running one operation of each kind for real ...", flush=True)
            ids = real_operations(backend)
            with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as client:
                documents = [client.get(f"/operations/{ids[k]}").json() for k in KINDS]
        finally:
            backend.stop()
        docs_file = root / "documents.json"
        docs_file.write_text(json.dumps(documents))
        sizes = {k: len(json.dumps(d)) for k, d in zip(KINDS, documents, strict=True)}

        ours: dict[str, float] = dict.fromkeys(KINDS, 0.0)
        bare: dict[str, float] = dict.fromkeys(KINDS, 0.0)
        bare_port = free_port()
        for _ in range(args.rounds):
            backend = LiveBackend(root).start()  # the same data dir: the same operations
            try:
                for kind in KINDS:
                    url = f"{backend.url}/api/v1/operations/{ids[kind]}"
                    load(url, 0.5, args.connections)  # warm: a first read may come from disk
                    ours[kind] = max(ours[kind], load(url, args.seconds, args.connections))
            finally:
                backend.stop()
            server = subprocess.Popen(
                [sys.executable, "-c", BARE_APP, str(docs_file), str(bare_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_for(f"http://127.0.0.1:{bare_port}/doc/0")
                for index, kind in enumerate(KINDS):
                    url = f"http://127.0.0.1:{bare_port}/doc/{index}"
                    load(url, 0.5, args.connections)
                    bare[kind] = max(bare[kind], load(url, args.seconds, args.connections))
            finally:
                server.terminate()
                server.wait(timeout=10)

    rows = [
        (
            kind,
            f"{ours[kind]:7.0f} req/s vs bare {bare[kind]:7.0f} req/s = "
            f"{ours[kind] / bare[kind]:.2f}x  ({sizes[kind]:,} bytes)",
        )
        for kind in KINDS
    ]
    print(f"GET /operations/{{id}} of an ended operation, {args.connections} connections:")
    table(rows)
    worst = min(ours[k] / bare[k] for k in KINDS)
    print(f"  worst ratio {worst:.2f}x (goal >= 0.9x)")
    save(
        "read_throughput",
        {"ours": ours, "bare": bare, "sizes": sizes, "worst_ratio": worst, "args": vars(args)},
    )


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


if __name__ == "__main__":
    main()
