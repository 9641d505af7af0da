"""Small helpers shared by the benchmarks: timing, percentiles, result files."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / ".results"


def best_of(fn: Callable[[], Any], repeats: int = 3) -> float:
    """Fastest wall time of ``repeats`` runs, in seconds (the least disturbed run)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def save(name: str, results: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2))
    return path


def phase_log(log: Path, operation_id: str) -> list[tuple[str, float]]:
    """(phase, epoch seconds) from a JSON-format backend log's "phase entered" lines."""
    from datetime import datetime

    events = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("event") == "phase entered" and entry.get("operation_id") == operation_id:
            stamp = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
            events.append((str(entry["phase"]), stamp.timestamp()))
    return events


def table(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


# The last commit whose monitor polled parent and child every 300 ms (before the tree
# long-poll): the "old" side of the watching benchmarks, run against the same backend.
POLLING_MONITOR_COMMIT = "07de4b6"


def previous_client(commit: str, into: Path) -> Path:
    """The ``ktrdr`` package as it was at ``commit``, extracted under ``into``; run it with
    PYTHONPATH set to the returned directory and a working directory outside the checkout
    (so the current package on sys.path does not shadow it)."""
    import io
    import subprocess
    import tarfile

    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", commit, "ktrdr"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into
