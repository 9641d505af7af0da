"""CSV imports under load, on a real backend: how much memory one import of a ~45 MB file
adds, what three at once do, and how long listing takes once three big series are stored.

* peak growth: the backend's peak resident memory during the import (VmHWM, its peak
  counter reset just before by writing 5 to /proc/PID/clear_refs; VmRSS polled every
  10 ms where that is not allowed) minus its resident memory before, as a ratio to the
  file's size;
* three at once: three imports of the same file sent together to a fresh backend, the
  same peak, and what each one answered (with a cap on imports at once, 409s);
* listing: GET /data and GET /data/SP500 after three stored imports, on the backend that
  made them (warm) and on a fresh backend over the same data dir (cold: nothing cached).

python -m benchmarks.imports [--megabytes 45] [--repeats 3] [--label imports]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import best_of, save, table
from tests.support.live_backend import LiveBackend

API = "/api/v1"
MB = 1_000_000


def write_csv(path: Path, megabytes: float, seed: int = 7) -> int:
    """A minute-bar OHLCV file of about ``megabytes`` MB with full-precision prices (the
    worst case for parsing: long numbers); returns its size in bytes."""
    rng = random.Random(seed)
    start = 1_500_000_000
    price = 100.0
    with path.open("w", encoding="utf-8") as out:
        out.write("timestamp,open,high,low,close,volume\n")
        i = 0
        while out.tell() < megabytes * MB:
            lines = []
            for _ in range(10_000):
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + 60 * i))
                close = price * (1 + rng.gauss(0, 0.001))
                high = max(price, close) * (1 + rng.random() * 0.001)
                low = min(price, close) * (1 - rng.random() * 0.001)
                volume = rng.randint(1, 10**6)
                lines.append(f"{stamp},{price!r},{high!r},{low!r},{close!r},{volume}")
                price = close
                i += 1
            out.write("\n".join(lines) + "\n")
    return path.stat().st_size


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def peak_growth(pid: int, work: Callable[[], Any]) -> tuple[int, Any]:
    """(peak resident bytes during ``work`` minus resident bytes before it, work's result)."""
    before = _status_kb(pid, "VmRSS")
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        exact = True
    except OSError:
        exact = False
    polled = [before]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            polled.append(_status_kb(pid, "VmRSS"))
            time.sleep(0.01)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        result = work()
    finally:
        done.set()
        poller.join()
    peak = max(_status_kb(pid, "VmHWM"), max(polled)) if exact else max(polled)
    return (peak - before) * 1024, result


def post_import(url: str, symbol: str, text: str) -> tuple[int, str]:
    body = {"symbol": symbol, "timeframe": "1m", "csv_text": text, "filename": "big.csv"}
    reply = httpx.post(f"{url}{API}/data/import", json=body, timeout=600)
    code = reply.json().get("error", {}).get("code", "") if reply.status_code >= 400 else ""
    return reply.status_code, code


def _started(root: Path, name: str, data_dir: Path | None = None) -> LiveBackend:
    (root / name).mkdir()
    backend = LiveBackend(root / name)
    if data_dir is not None:
        backend.data_dir = data_dir
        backend.env["KTRDR_DATA_DIR"] = str(data_dir)
    backend.env["KTRDR_MAX_IMPORT_BYTES"] = str(200 * 1024 * 1024)
    return backend.start()


def one_import(root: Path, text: str) -> dict[str, Any]:
    backend = _started(root, "one")
    try:
        post_import(backend.url, "WARM", "date,open,high,low,close\n2020-01-01,1,1,1,1\n")
        grown, answer = peak_growth(backend.pid, lambda: post_import(backend.url, "ONE", text))
        return {"peak_growth_bytes": grown, "answer": answer}
    finally:
        backend.stop()


def three_at_once(root: Path, text: str) -> dict[str, Any]:
    backend = _started(root, "three")
    answers: list[tuple[int, str]] = []

    def send_three() -> None:
        def send(symbol: str) -> None:
            answers.append(post_import(backend.url, symbol, text))

        senders = [threading.Thread(target=send, args=(f"AT{i}",)) for i in range(3)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()

    try:
        grown, _ = peak_growth(backend.pid, send_three)
        return {"peak_growth_bytes": grown, "answers": sorted(answers)}
    finally:
        backend.stop()


def _getter(url: str) -> Callable[[], httpx.Response]:
    return lambda: httpx.get(url, timeout=600).raise_for_status()


def listing(root: Path, text: str, repeats: int) -> dict[str, Any]:
    """Seconds for GET /data and GET /data/SP500 after three imports, warm then cold."""
    backend = _started(root, "listing")
    data_dir = backend.data_dir
    timings: dict[str, Any] = {}
    try:
        timings["imports"] = [post_import(backend.url, f"LIST{i}", text) for i in range(3)]
        for path in ("/data", "/data/SP500"):
            timings[f"warm {path}"] = best_of(_getter(backend.url + API + path), repeats)
    finally:
        backend.stop()
    for path in ("/data/SP500", "/data"):
        # A fresh backend per request: whatever it parses for it is parsed then.
        cold = _started(root, f"cold{path.replace('/', '-')}", data_dir)
        try:
            started = time.perf_counter()
            httpx.get(cold.url + API + path, timeout=600).raise_for_status()
            timings[f"cold {path}"] = time.perf_counter() - started
        finally:
            cold.stop()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=float, default=45.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--label", default="imports", help="results file name")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        size = write_csv(root / "big.csv", args.megabytes)
        text = (root / "big.csv").read_text(encoding="utf-8")
        one = one_import(root, text)
        three = three_at_once(root, text)
        listed = listing(root, text, args.repeats)
    results = {"file_bytes": size, "one": one, "three": three, "listing": listed}
    save(args.label, results)
    rows = [
        ("file", f"{size / MB:.1f} MB"),
        ("one import: answer", str(one["answer"])),
        ("one import: peak growth", _ratio(one["peak_growth_bytes"], size)),
        ("three at once: answers", str(three["answers"])),
        ("three at once: peak growth", _ratio(three["peak_growth_bytes"], size)),
    ]
    rows += [(f"listing: {k}", f"{v:.3f} s") for k, v in listed.items() if k != "imports"]
    table(rows)


def _ratio(grown: int, size: int) -> str:
    return f"{grown / MB:,.0f} MB ({grown / size:.1f}x the file)"


if __name__ == "__main__":
    main()
