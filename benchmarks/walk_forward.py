"""Walk-forward research cycles (M candidates × K folds as parallel children), on a real
backend, side by side in one run. Every cycle uses a fresh backend (its own data dir), warmed
by as many 2-epoch trainings as it has job slots, so no side pays for first imports.

1. **Parallel vs serial**: the same cycle (``--folds`` × ``--candidates``, seed 1,
   ``--epochs`` with patience 0 so every training runs every epoch: identical work) on the
   ``process`` executor with ``KTRDR_WORKERS=1`` then ``2``. Wall time from sending the
   trigger to seeing the cycle completed (polled every 50 ms), and the speed-up.
   Both runs must choose the same candidate and show the same holdout figures (the work is
   deterministic): printed as a check.
2. **Dask 1 worker vs 2** (``--skip-dask`` leaves it out): the same cycle on
   ``KTRDR_EXECUTOR=dask`` with ``KTRDR_DASK_SCHEDULER=local:1`` then ``local:2`` and
   ``KTRDR_WORKERS=16``, so the cluster's slots decide how many run together.
3. **Overhead per child**: a 4 × 4 cycle creates its 20 trainings at once (16 fold + 4 final);
   on ``process`` with ``KTRDR_WORKERS=20`` all are admitted at once, so what it measures is
   the executor's per-child cost under that load (20 job processes on this machine's cores).
   Per training child: *queued* = ``started_at - created_at`` (server clock), and *submit →
   first report* = the first progress report's time - ``created_at``. The first report's
   time is the child's ``last_progress_at`` when a poll of ``GET /operations/{id}/tree``
   (every ~5 ms, with If-None-Match) first shows it a progress step: exact when the child
   was still at its first report (0 %), else late by less than one poll. The cycle is
   cancelled once every training has reported. Baseline: the classic cycle's one training
   (``folds: 0``), ``--starts`` times on the same backend. Median, p95 and their ratio.
4. **Default cycle, before and after**: ``folds: 0`` (the classic cycle, as before) vs a
   trigger without shape fields (the defaults: 4 candidates × 4 folds, patience 10), default
   settings on ``process``, seeds 0..``--seeds``-1 each: best (fastest) wall time of each,
   and their ratio.

    python -m benchmarks.walk_forward [--folds 5] [--candidates 4] [--epochs 40] [--seeds 3]
        [--starts 10] [--skip-dask]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import median, percentile, save, table
from tests.support.live_backend import LiveBackend

TERMINAL = {"completed", "failed", "cancelled"}
WARM_UP_STRATEGY = "rsi_mean_reversion"
SEED = 1
# The figures the chosen candidate's holdout produced: equal when the work is identical.
HOLDOUT_FIGURES = ("strategy_name", "sharpe_ratio", "total_return", "max_drawdown", "trades")
CYCLE_POLL_SECONDS = 0.05
TREE_POLL_SECONDS = 0.005
TIMEOUT_SECONDS = 1800.0
LOADED_FOLDS = 4
LOADED_CANDIDATES = 4


@dataclass(frozen=True)
class Backend:
    executor: str
    workers: int | None = None  # None: the default (KTRDR_WORKERS unset)
    scheduler: str | None = None

    @property
    def slots(self) -> int:
        """How many jobs can compute at once: what a warm-up must touch."""
        if self.scheduler is not None and ":" in self.scheduler:
            return int(self.scheduler.split(":", 1)[1])
        return self.workers or 2


@contextmanager
def api(config: Backend) -> Iterator[httpx.Client]:
    """A fresh backend for ``config``, warmed up, as an HTTP client on its API."""
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveBackend(Path(tmp))
        live.env["KTRDR_EXECUTOR"] = config.executor
        if config.workers is not None:
            live.env["KTRDR_WORKERS"] = str(config.workers)
        if config.scheduler is not None:
            live.env["KTRDR_DASK_SCHEDULER"] = config.scheduler
        live.start()
        try:
            with httpx.Client(base_url=f"{live.url}/api/v1", timeout=60) as http:
                warm_up(http, config.slots)
                yield http
        finally:
            live.stop()


def warm_up(http: httpx.Client, jobs: int) -> None:
    """Short trainings at once, one per slot: worker processes import the engines once."""
    ids = []
    for _ in range(jobs):
        reply = http.post("/training/start", json={"strategy": WARM_UP_STRATEGY, "epochs": 2})
        reply.raise_for_status()
        ids.append(str(reply.json()["data"]["operation_id"]))
    for op_id in ids:
        wait_terminal(http, op_id)


def trigger(http: httpx.Client, body: dict[str, Any]) -> str:
    reply = http.post("/agent/trigger", json=body)
    reply.raise_for_status()
    return str(reply.json()["data"]["operation_id"])


def wait_terminal(http: httpx.Client, op_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        op: dict[str, Any] = http.get(f"/operations/{op_id}").json()["data"]
        if op["status"] in TERMINAL:
            return op
        time.sleep(CYCLE_POLL_SECONDS)
    raise TimeoutError(f"{op_id} still open after {TIMEOUT_SECONDS} s")


# ---------------------------------------------------------------------- whole cycles
@dataclass(frozen=True)
class CycleRun:
    seconds: float
    outcome: dict[str, Any]  # the chosen candidate and its holdout figures


def timed_cycle(http: httpx.Client, body: dict[str, Any]) -> CycleRun:
    """Trigger → completed, in wall seconds; a cycle that does not complete is an error."""
    begin = time.perf_counter()
    op = wait_terminal(http, trigger(http, body))
    seconds = time.perf_counter() - begin
    if op["status"] != "completed":
        raise RuntimeError(f"cycle {op['operation_id']} {op['status']}: {op['error_message']}")
    summary: dict[str, Any] = op["result_summary"] or {}
    chosen = [c.get("index") for c in summary.get("candidates") or [] if c.get("chosen")]
    outcome = {"chosen": chosen[0] if chosen else None}
    outcome.update({key: summary.get(key) for key in HOLDOUT_FIGURES})
    return CycleRun(seconds, outcome)


def cycle_on(config: Backend, body: dict[str, Any]) -> CycleRun:
    with api(config) as http:
        return timed_cycle(http, body)


def same_outcome(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for key, x in a.items():
        y = b[key]
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif x != y:
            return False
    return True


def describe_outcome(outcome: dict[str, Any]) -> str:
    chosen = outcome.get("chosen")
    sharpe, ret = outcome.get("sharpe_ratio"), outcome.get("total_return")
    sharpe_text = f"{sharpe:+.3f}" if isinstance(sharpe, float) else "-"
    ret_text = f"{ret:+.2%}" if isinstance(ret, float) else "-"
    number = chosen + 1 if isinstance(chosen, int) else "-"
    return f"candidate {number}, holdout Sharpe {sharpe_text}, return {ret_text}"


def side_by_side(
    label: str, a: Backend, b: Backend, body: dict[str, Any]
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The same cycle on ``a`` (1 slot) then ``b`` (2 slots): table rows and raw figures."""
    one, two = cycle_on(a, body), cycle_on(b, body)
    same = same_outcome(one.outcome, two.outcome)
    check = "same candidate and holdout figures" if same else "DIFFERENT outcomes"
    rows = [
        (f"{label}, 1 slot", f"{one.seconds:.1f} s  ({describe_outcome(one.outcome)})"),
        (f"{label}, 2 slots", f"{two.seconds:.1f} s  ({describe_outcome(two.outcome)})"),
        (f"{label}, speed-up", f"{one.seconds / two.seconds:.2f}x (goal >= 1.7x); {check}"),
    ]
    raw = {"one": asdict(one), "two": asdict(two), "speedup": one.seconds / two.seconds}
    return rows, {**raw, "identical": same}


# ---------------------------------------------------------------------- overhead per child
@dataclass(frozen=True)
class ChildStart:
    queued_ms: float  # created → started (a slot taken)
    first_report_ms: float  # created → first progress report
    exact: bool  # seen while still at its first report


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def child_start(op: dict[str, Any]) -> ChildStart:
    created = _stamp(op["created_at"])
    started = _stamp(op["started_at"])
    reported = _stamp(op["last_progress_at"])
    return ChildStart(
        queued_ms=(started - created).total_seconds() * 1000,
        first_report_ms=(reported - created).total_seconds() * 1000,
        exact=op["progress"]["percentage"] == 0,
    )


def first_reports(http: httpx.Client, cycle_id: str, expected: int) -> list[ChildStart]:
    """Poll the cycle's tree until ``expected`` training children have reported progress."""
    found: dict[str, ChildStart] = {}
    etag: str | None = None
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while len(found) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(found)} of {expected} trainings reported")
        reply = http.get(
            f"/operations/{cycle_id}/tree", headers={"If-None-Match": etag} if etag else {}
        )
        if reply.status_code == 200:
            etag = reply.headers.get("ETag")
            operations: list[dict[str, Any]] = reply.json()["data"]["operations"]
            if operations[0]["status"] in TERMINAL:
                raise RuntimeError(f"cycle {cycle_id} ended: {operations[0]['error_message']}")
            for op in operations[1:]:
                if (
                    op["operation_type"] == "training"
                    and op["operation_id"] not in found
                    and op["progress"].get("current_step")
                ):
                    found[op["operation_id"]] = child_start(op)
        time.sleep(TREE_POLL_SECONDS)
    return list(found.values())


def starts_of(http: httpx.Client, body: dict[str, Any], expected: int) -> list[ChildStart]:
    """One cycle's training starts; the cycle is cancelled then (only its starts count)."""
    cycle_id = trigger(http, body)
    try:
        return first_reports(http, cycle_id, expected)
    finally:
        http.delete(f"/operations/{cycle_id}")
        wait_terminal(http, cycle_id)


def child_overhead(epochs: int, starts: int) -> dict[str, list[ChildStart]]:
    loaded_body = {
        "seed": SEED,
        "folds": LOADED_FOLDS,
        "candidates": LOADED_CANDIDATES,
        "epochs": epochs,
        "patience": 0,
    }
    children = LOADED_CANDIDATES * (LOADED_FOLDS + 1)
    with api(Backend("process", workers=children)) as http:
        loaded = starts_of(http, loaded_body, children)
        alone = [
            start
            for seed in range(starts)
            for start in starts_of(http, {"seed": seed, "folds": 0, "epochs": epochs}, 1)
        ]
    return {"loaded": loaded, "alone": alone}


def overhead_rows(found: dict[str, list[ChildStart]]) -> list[tuple[str, str]]:
    def figures(starts: list[ChildStart], field: str) -> tuple[float, float]:
        values = [getattr(s, field) for s in starts]
        return median(values), percentile(values, 95)

    rows = []
    for key, label in (("loaded", f"{len(found['loaded'])} at once"), ("alone", "1 child")):
        starts = found[key]
        exact = sum(s.exact for s in starts)
        for field, what in (("queued_ms", "queued"), ("first_report_ms", "submit -> 1st report")):
            mid, p95 = figures(starts, field)
            rows.append((f"{what}, {label}", f"median {mid:.0f} ms, p95 {p95:.0f} ms"))
        rows[-1] = (rows[-1][0], f"{rows[-1][1]}  ({exact}/{len(starts)} exact)")
    loaded_mid, loaded_p95 = figures(found["loaded"], "first_report_ms")
    alone_mid, alone_p95 = figures(found["alone"], "first_report_ms")
    rows.append(
        (
            "submit -> 1st report, loaded / alone",
            f"median {loaded_mid / alone_mid:.2f}x, p95 {loaded_p95 / alone_p95:.2f}x",
        )
    )
    return rows


# ---------------------------------------------------------------------- default cycle
def default_cycles(seeds: int) -> dict[str, list[float]]:
    """Classic (``folds: 0``) and default cycles, seed by seed, on one default backend."""
    found: dict[str, list[float]] = {"classic": [], "default": []}
    with api(Backend("process")) as http:
        for seed in range(seeds):
            found["classic"].append(timed_cycle(http, {"seed": seed, "folds": 0}).seconds)
            found["default"].append(timed_cycle(http, {"seed": seed}).seconds)
    return found


def default_rows(found: dict[str, list[float]]) -> list[tuple[str, str]]:
    classic, default = found["classic"], found["default"]
    return [
        ("classic cycle (folds 0), best", f"{min(classic):.1f} s (median {median(classic):.1f})"),
        ("default cycle (4 x 4), best", f"{min(default):.1f} s (median {median(default):.1f})"),
        (f"default / classic, best of {len(classic)}", f"{min(default) / min(classic):.1f}x"),
    ]


# ---------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--starts", type=int, default=10, help="1-child baseline repeats")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    body = {
        "seed": SEED,
        "folds": args.folds,
        "candidates": args.candidates,
        "epochs": args.epochs,
        "patience": 0,
    }
    rows, results = side_by_side(
        "process", Backend("process", workers=1), Backend("process", workers=2), body
    )
    saved: dict[str, Any] = {"args": vars(args), "process": results}
    if not args.skip_dask:
        dask_rows, saved["dask"] = side_by_side(
            "dask",
            Backend("dask", workers=16, scheduler="local:1"),
            Backend("dask", workers=16, scheduler="local:2"),
            body,
        )
        rows += dask_rows
    overhead = child_overhead(args.epochs, args.starts)
    defaults = default_cycles(args.seeds)
    print(
        f"Walk-forward cycle of {args.candidates} candidates x {args.folds} folds, "
        f"{args.epochs} epochs each (patience 0), seed {SEED}"
    )
    table(rows)
    print("Overhead per training child on process (KTRDR_WORKERS=20)")
    table(overhead_rows(overhead))
    print(f"Default cycle vs classic, default settings, seeds 0..{args.seeds - 1}")
    table(default_rows(defaults))
    saved["overhead"] = {k: [asdict(s) for s in v] for k, v in overhead.items()}
    saved["default_cycles"] = defaults
    path = save("walk_forward", saved)
    print(f"(whole run {time.perf_counter() - began:.0f} s; saved to {path})")


if __name__ == "__main__":
    main()
