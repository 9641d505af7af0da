"""How accurate the research cycle's ETA is: real cycles replayed, leave one out, in time order.

First a history of real cycles is built: ``--cycles`` research cycles (4 shapes in turn:
classic cycles of 60 and 150 epochs, walk-forward cycles of 2 folds × 1 candidate and 2
folds × 2 candidates), run one after another on this machine by the backend's own object
graph (``ktrdr.bootstrap``) on the thread executor. Every version of every operation is
recorded as the service records it (a listener): the timeline of each cycle, its phases
and each child's percentage over time. The history is saved (``--history``) so that
``--reuse`` replays it again without running anything.

Then each completed cycle is predicted from the cycles that completed before it started,
at 0 %, 25 % and 50 % of its real duration, from what its timeline showed at that moment
(phase, children, their percentages), through the same code the backend uses
(``ktrdr.agents.cycle_timeline`` and ``ktrdr.operations.eta``). Reported per point: the
median absolute percentage error of the predicted duration (elapsed + ETA against the real
duration; goals ≤ 15 % at 25 %, ≤ 10 % at 50 %), the same error on the time left alone, and
how often the real end fell inside the 80 % interval (goal 75-85 %); and how often a cycle
ended past its comparable cycles' 90th percentile ("overdue", about 10 % if calibrated).

    python -m benchmarks.eta_accuracy [--cycles 36] [--seed 100] [--history PATH]
    python -m benchmarks.eta_accuracy --reuse --history PATH [PATH ...]  # pooled

The estimator's one tuned constant, ``PACE_WANDER`` (``ktrdr.operations.eta``), was chosen
on a first history (seeds 100...) and checked, unchanged, on a second one built afterwards
(``--seed 1000``): the figures of both are in the README.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, percentile, save, table
from ktrdr.agents.cycle_timeline import (
    ChildTimes,
    completed_cycle,
    cycle_key,
    cycle_series,
    cycle_size,
    live_cycle,
)
from ktrdr.bootstrap import build_runtime
from ktrdr.config import Settings
from ktrdr.contract.requests import AgentTriggerRequest
from ktrdr.data.market import MarketData
from ktrdr.operations.eta import Eta, PastCycle, estimate
from ktrdr.records.models import Operation, OperationStatus

# (label, trigger body): 3 keys, 4 sizes (the classic ones differ in epochs only).
SHAPES: list[tuple[str, dict[str, Any]]] = [
    ("classic e60", {"folds": 0, "epochs": 60}),
    ("classic e150", {"folds": 0, "epochs": 150}),
    ("wf 2x1 e40", {"folds": 2, "candidates": 1, "epochs": 40, "patience": 0}),
    ("wf 2x2 e25", {"folds": 2, "candidates": 2, "epochs": 25, "patience": 0}),
]
POINTS = (0.0, 0.25, 0.5)
CYCLE_TIMEOUT = 600.0
DEFAULT_HISTORY = RESULTS / "eta_history.json"


@dataclass(frozen=True)
class Sample:
    """One version of one operation, as the service recorded it."""

    at: float  # epoch seconds (the service's clock, as in created_at and completed_at)
    operation_id: str
    status: str
    percentage: float
    phase: str | None


@dataclass(frozen=True)
class Recorded:
    shape: str
    cycle: Operation
    children: list[Operation]
    samples: list[Sample]


class Recorder:
    """A service listener keeping every version's time, status, percentage and phase."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples: list[Sample] = []

    def observe(self, op: Operation) -> None:
        phase = op.metadata.parameters.get("phase")
        sample = Sample(
            op.updated_at.timestamp(),
            op.operation_id,
            op.status.value,
            op.progress.percentage,
            phase if isinstance(phase, str) else None,
        )
        with self._lock:
            self.samples.append(sample)

    def of(self, ids: set[str]) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if s.operation_id in ids]


# ---------------------------------------------------------------------------- building


def build_history(count: int, workers: int, first_seed: int) -> dict[str, Any]:
    """Run ``count`` real cycles one after another and record their timelines (seeds from
    ``first_seed``: another seed, other designs)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), executor="thread", workers=workers, ephemeral=True)
        runtime = build_runtime(settings)
        recorder = Recorder()
        runtime.service.add_listener(recorder.observe)
        cycles: list[dict[str, Any]] = []
        try:
            for index in range(count):
                label, body = SHAPES[index % len(SHAPES)]
                request = AgentTriggerRequest(**body, seed=first_seed + index)
                started = time.perf_counter()
                cycle_id = runtime.cycles.start(request).operation_id
                while not runtime.service.peek(cycle_id).is_terminal:
                    if time.perf_counter() - started > CYCLE_TIMEOUT:
                        raise SystemExit(f"cycle {cycle_id} did not end in {CYCLE_TIMEOUT}s")
                    time.sleep(0.05)
                nodes = runtime.service.tree(cycle_id).nodes
                ids = {op.operation_id for op in nodes}
                cycles.append(
                    {
                        "shape": label,
                        "operations": [op.model_dump(mode="json") for op in nodes],
                        "samples": [vars(s) for s in recorder.of(ids)],
                    }
                )
                took = time.perf_counter() - started
                print(f"  {index + 1:>3}/{count} {label:<13} {nodes[0].status.value} {took:.2f}s")
        finally:
            runtime.close()
    return {"executor": "thread", "workers": workers, "first_seed": first_seed, "cycles": cycles}


def read_history(raw: dict[str, Any]) -> list[Recorded]:
    found = []
    for item in raw["cycles"]:
        ops = [Operation.model_validate(op) for op in item["operations"]]
        samples = sorted((Sample(**s) for s in item["samples"]), key=lambda s: s.at)
        found.append(Recorded(item["shape"], ops[0], ops[1:], samples))
    return found


# ---------------------------------------------------------------------------- replaying


@dataclass(frozen=True)
class Prediction:
    shape: str
    point: float
    error: float  # |elapsed + eta - duration| / duration
    error_left: float  # |eta - left| / left
    covered: bool


class Replay:
    """The recorded cycles as the backend would have seen them, one moment at a time."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.executor = str(raw["executor"])
        self.workers = int(raw["workers"])
        self.cycles = sorted(
            (r for r in read_history(raw) if r.cycle.completed_at is not None),
            key=lambda r: _ts(r.cycle.completed_at),
        )
        self._market = MarketData(Path(tempfile.gettempdir()))
        self._bars: dict[tuple[str, str], int] = {}

    def bars(self, recorded: Recorded) -> int | None:
        series = cycle_series(recorded.cycle.metadata.parameters)
        if series is None:
            return None
        if series not in self._bars:
            self._bars[series] = self._market.series_info(*series).bars
        return self._bars[series]

    def past(self, recorded: Recorded) -> PastCycle | None:
        """The cycle as the backend's own ETA keeps it (``CycleEtas``)."""
        bars = self.bars(recorded)
        return completed_cycle(recorded.cycle, recorded.children, self.executor, self.workers, bars)

    def predict(self, recorded: Recorded, history: list[PastCycle], at: float) -> Eta | None:
        """The estimate at epoch time ``at``, from what the timeline showed then."""
        cycle = recorded.cycle
        params = cycle.metadata.parameters
        children = _children_at(recorded, at)
        key = cycle_key(params, self.executor, self.workers)
        size = cycle_size(params, children, self.bars(recorded))
        started = cycle.started_at or cycle.created_at
        now = datetime.fromtimestamp(at, UTC)
        live = live_cycle(key, size, started, _phase_at(recorded, at), children, now)
        return estimate(history, live) if live is not None else None


def _ts(moment: datetime | None) -> float:
    assert moment is not None
    return moment.timestamp()


def _phase_at(recorded: Recorded, at: float) -> str | None:
    phase: str | None = None
    for sample in recorded.samples:
        if sample.at > at:
            break
        if sample.operation_id == recorded.cycle.operation_id and sample.phase:
            phase = sample.phase
    return phase


def _children_at(recorded: Recorded, at: float) -> list[ChildTimes]:
    """Each child created by ``at`` as it stood then (its last version by then)."""
    last: dict[str, Sample] = {}
    for sample in recorded.samples:
        if sample.at > at:
            break
        last[sample.operation_id] = sample
    found = []
    for child in recorded.children:
        if _ts(child.created_at) > at:
            continue
        # The service tells its listeners of changes, not of creations: a child with no
        # version by then is as it was created, pending at 0 %.
        seen = last.get(child.operation_id)
        ended = child.completed_at is not None and _ts(child.completed_at) <= at
        started = child.started_at is not None and _ts(child.started_at) <= at
        whole = ChildTimes.of(child)
        found.append(
            ChildTimes(
                whole.kind,
                OperationStatus(seen.status) if seen else OperationStatus.PENDING,
                whole.created_at,
                whole.completed_at if ended else None,
                seen.percentage if seen else 0.0,
                whole.epochs,
                whole.started_at if started else None,
            )
        )
    return found


def evaluate(replay: Replay) -> tuple[dict[float, list[Prediction]], list[bool]]:
    """Every completed cycle predicted at each point from those completed before it
    started; and, at its end, whether it was overdue."""
    done: list[tuple[float, PastCycle]] = []
    predictions: dict[float, list[Prediction]] = {point: [] for point in POINTS}
    overdue: list[bool] = []
    for recorded in replay.cycles:
        cycle = recorded.cycle
        start, end = _ts(cycle.started_at or cycle.created_at), _ts(cycle.completed_at)
        history = [past for ended, past in done if ended < start]
        duration = end - start
        if cycle.status is OperationStatus.COMPLETED and duration > 0:
            for point in POINTS:
                at = start + point * duration
                eta = replay.predict(recorded, history, at)
                if eta is not None:
                    predictions[point].append(
                        _scored(recorded.shape, point, eta, at - start, duration)
                    )
            last = replay.predict(recorded, history, end - 1e-3)
            if last is not None:
                overdue.append(last.overdue)
        past = replay.past(recorded)
        if past is not None:
            done.append((end, past))
    return predictions, overdue


def _scored(shape: str, point: float, eta: Eta, elapsed: float, duration: float) -> Prediction:
    left = duration - elapsed
    return Prediction(
        shape=shape,
        point=point,
        error=abs(elapsed + eta.seconds - duration) / duration,
        error_left=abs(eta.seconds - left) / left if left > 0 else 0.0,
        covered=eta.low <= left <= eta.high,
    )


def summary(rows: list[Prediction]) -> dict[str, float | int]:
    if not rows:
        return {"n": 0}
    errors = [r.error for r in rows]
    return {
        "n": len(rows),
        "median_ape": statistics.median(errors),
        "p90_ape": percentile(errors, 90),
        "median_ape_of_time_left": statistics.median(r.error_left for r in rows),
        "coverage_80": sum(r.covered for r in rows) / len(rows),
    }


def report(histories: list[dict[str, Any]]) -> dict[str, Any]:
    """Each history replayed on its own (its cycles predicted from its earlier ones), the
    predictions pooled."""
    predictions: dict[float, list[Prediction]] = {point: [] for point in POINTS}
    overdue: list[bool] = []
    cycles: list[Recorded] = []
    for raw in histories:
        replay = Replay(raw)
        found, ended = evaluate(replay)
        for point in POINTS:
            predictions[point] += found[point]
        overdue += ended
        cycles += replay.cycles
    shapes = sorted({r.shape for r in cycles})
    results: dict[str, Any] = {
        "histories": len(histories),
        "cycles": len(cycles),
        "completed": sum(r.cycle.status is OperationStatus.COMPLETED for r in cycles),
        "shapes": {s: sum(r.shape == s for r in cycles) for s in shapes},
        "points": {f"{p:.0%}": summary(predictions[p]) for p in POINTS},
        "by_shape": {
            f"{p:.0%}": {s: summary([r for r in predictions[p] if r.shape == s]) for s in shapes}
            for p in POINTS
        },
        "overdue_at_end": (sum(overdue) / len(overdue)) if overdue else None,
        "goals": {"median_ape_25%": 0.15, "median_ape_50%": 0.10, "coverage_80": [0.75, 0.85]},
    }
    print(f"\n{results['completed']} completed cycles of {len(shapes)} shapes: {results['shapes']}")
    _print_points(results["points"])
    if overdue:
        table([("ended past their p90 (overdue)", f"{sum(overdue)}/{len(overdue)}")])
    return results


def _print_points(points: dict[str, dict[str, float | int]]) -> None:
    for point, figures in points.items():
        if not figures["n"]:
            table([(f"at {point}", "no estimate (fewer than 3 comparable cycles before any)")])
            continue
        table(
            [
                (
                    f"at {point} (n={figures['n']})",
                    f"median APE {figures['median_ape']:.1%}  p90 {figures['p90_ape']:.1%}  "
                    f"time left {figures['median_ape_of_time_left']:.1%}  "
                    f"80% interval coverage {figures['coverage_80']:.0%}",
                )
            ]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=36, help="cycles to run (at least 30)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=100, help="the first cycle's seed")
    parser.add_argument(
        "--history",
        type=Path,
        nargs="+",
        default=[DEFAULT_HISTORY],
        help="where the history is saved; with --reuse, the histories to replay together",
    )
    parser.add_argument("--reuse", action="store_true", help="replay saved histories")
    args = parser.parse_args()
    if args.reuse:
        histories = [json.loads(path.read_text()) for path in args.history]
    else:
        began = time.perf_counter()
        raw = build_history(args.cycles, args.workers, args.seed)
        raw["built_seconds"] = round(time.perf_counter() - began, 1)
        raw["built_at"] = datetime.now(UTC).isoformat()
        path = args.history[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(raw))
        print(f"history of {len(raw['cycles'])} cycles saved to {path}")
        histories = [raw]
    results = report(histories)
    results["history"] = [str(path) for path in args.history]
    print(f"results: {save('eta_accuracy', results)}")


if __name__ == "__main__":
    main()
