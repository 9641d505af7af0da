"""Webhook delivery latency after an end, on a real backend (``ktrdr server start`` in a
subprocess) with a real receiver on loopback in this process.

Each of ``--trainings`` short trainings (``--epochs`` each, ``--workers`` at a time) runs
to completion through the API; the receiver notes when each ``operation.completed`` arrives,
and the latency is that arrival minus the operation's ``completed_at`` in the payload (the
backend's end time; one machine, one clock). The signature is checked on every one.
Goal: p95 under 1 s on loopback.

python -m benchmarks.webhook_latency [--trainings 50] [--epochs 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import secrets
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from benchmarks.common import median, percentile, save, table
from tests.support.live_backend import LiveBackend
from tests.support.webhook_receiver import Received, WebhookReceiver, webhook_receiver


def signed_correctly(request: Received, key: bytes) -> bool:
    h = request.headers
    content = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + request.body
    digest = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(h["webhook-signature"], f"v1,{digest}")


def run_trainings(backend: LiveBackend, count: int, epochs: int, workers: int) -> list[str]:
    """Start ``count`` trainings, at most ``workers`` open at once; their ids once all end."""
    started: list[str] = []
    open_ids: list[str] = []
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as http:
        while len(started) < count or open_ids:
            while len(started) < count and len(open_ids) < workers:
                reply = http.post(
                    "/training/start", json={"strategy": "rsi_mean_reversion", "epochs": epochs}
                )
                reply.raise_for_status()
                op_id = reply.json()["data"]["operation_id"]
                started.append(op_id)
                open_ids.append(op_id)
            time.sleep(0.05)
            for op_id in list(open_ids):
                status = http.get(f"/operations/{op_id}").json()["data"]["status"]
                if status not in ("pending", "running"):
                    open_ids.remove(op_id)
    return started


def latencies(receiver: WebhookReceiver, ids: list[str], key: bytes) -> tuple[list[float], int]:
    """(seconds from each end to its arrival, how many failed the signature check)."""
    received = receiver.wait_for(len(ids), timeout=60)
    found: dict[str, float] = {}
    bad = 0
    for request in received:
        operation = request.json()["data"]["operation"]
        bad += not signed_correctly(request, key)
        ended = datetime.fromisoformat(operation["completed_at"]).timestamp()
        found[operation["operation_id"]] = request.arrived_at - ended
    missing = set(ids) - set(found)
    if missing:
        raise SystemExit(f"{len(missing)} of {len(ids)} endings never arrived")
    return [found[op_id] for op_id in ids], bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trainings", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    key = secrets.token_bytes(32)
    with tempfile.TemporaryDirectory() as tmp, webhook_receiver() as receiver:
        backend = LiveBackend(Path(tmp))
        backend.env["KTRDR_WEBHOOK_URL"] = receiver.url
        backend.env["KTRDR_WEBHOOK_SECRET"] = "whsec_" + base64.b64encode(key).decode()
        backend.env["KTRDR_WORKERS"] = str(args.workers)
        backend.start()
        try:
            started = time.perf_counter()
            ids = run_trainings(backend, args.trainings, args.epochs, args.workers)
            wall = time.perf_counter() - started
            seconds, bad = latencies(receiver, ids, key)
        finally:
            backend.stop()
    ms = [s * 1000 for s in seconds]
    results = {
        "trainings": len(ids),
        "epochs": args.epochs,
        "workers": args.workers,
        "wall_seconds": round(wall, 1),
        "median_ms": round(median(ms), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "max_ms": round(max(ms), 1),
        "bad_signatures": bad,
        "goal_p95_ms": 1000,
    }
    print(f"webhook latency, end → receiver, over {len(ids)} completed trainings (loopback)")
    table(
        [
            ("median", f"{results['median_ms']} ms"),
            ("p95", f"{results['p95_ms']} ms (goal < 1000 ms)"),
            ("max", f"{results['max_ms']} ms"),
            ("bad signatures", str(bad)),
            ("wall time", f"{results['wall_seconds']} s"),
        ]
    )
    print(f"saved {save('webhook_latency', results)}")
    if bad or results["p95_ms"] >= 1000:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
