"""Training: ktrdr's epoch against a bare ``partial_fit`` loop, and what reporting costs.

Three ways to train the same strategy, seed and epochs, interleaved over several repeats
so they share the machine's load, medians compared in the same run:

* bare: the floor. The same MLPClassifier, the same shuffled blocks, ``partial_fit`` and
  nothing else: no evaluation, no progress, no cancellation checks;
* ktrdr: ``train_strategy`` with a NullProgressReporter (it also evaluates loss and
  accuracy on the training and validation rows after every epoch and reports them);
* ktrdr + SQLite: the same with an OperationProgressReporter into the operations stack
  ``ktrdr.bootstrap`` builds for the backend (write-behind SQLite, training-history listener).

Epoch time is measured between the first and the last epoch's report (the bare loop times
the same epochs), so the one-off dataset build and model save do not blur it; both wall
time and CPU time are kept. CPU time is the training thread's own (``thread_time``: with
BLAS capped to one thread all of the work runs there), which other processes' load and the
service's background threads do not inflate: it is the ratio's headline on a shared
machine (with --threads above 1, BLAS also works in other threads: read wall time then).
All three run under the same BLAS/OpenMP thread cap a job gets (``KTRDR_JOB_THREADS``).

    python -m benchmarks.training_overhead [--epochs 150] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from benchmarks.common import median, save, table
from ktrdr.bootstrap import build_operations
from ktrdr.config import load_settings
from ktrdr.data.bars import Bars
from ktrdr.data.market import MarketData
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.progress import NullProgressReporter, ProgressReporter, ProgressUpdate
from ktrdr.operations.reporting import OperationProgressReporter
from ktrdr.records.models import OperationType
from ktrdr.strategies.loader import load_strategy
from ktrdr.strategies.models import StrategyConfig
from ktrdr.training.dataset import CLASSES, build_dataset
from ktrdr.training.engine import block_plan, new_classifier, train_strategy

Stamp = tuple[float, float]  # (wall, CPU) seconds


def stamp() -> Stamp:
    return time.perf_counter(), time.thread_time()


def per_epoch(stamps: list[Stamp]) -> Stamp:
    epochs = len(stamps) - 1
    return (
        (stamps[-1][0] - stamps[0][0]) / epochs,
        (stamps[-1][1] - stamps[0][1]) / epochs,
    )


class EpochClock:
    """Wraps a reporter and notes when each epoch's report arrives."""

    def __init__(self, inner: ProgressReporter) -> None:
        self.inner = inner
        self.stamps: list[Stamp] = []

    def report(self, update: ProgressUpdate) -> None:
        self.stamps.append(stamp())
        self.inner.report(update)


def bare_loop(strategy: StrategyConfig, bars: Bars) -> Stamp:
    """Seconds per epoch of the floor: shuffled blocks into partial_fit, nothing else."""
    dataset = build_dataset(strategy, bars)
    classifier: MLPClassifier = new_classifier(strategy.model, dataset.y_train.size)
    block_count = block_plan(classifier, dataset.y_train.size)
    rng = np.random.default_rng(strategy.model.seed)
    stamps = []
    for _ in range(strategy.model.epochs):
        order = rng.permutation(dataset.y_train.size)
        for block in np.array_split(order, block_count):
            x, y = dataset.x_train[block], dataset.y_train[block]
            classifier.partial_fit(x, y, classes=list(CLASSES))
        stamps.append(stamp())
    return per_epoch(stamps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strategy", default="rsi_mean_reversion")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="default: KTRDR_JOB_THREADS")
    args = parser.parse_args()
    threads = args.threads or load_settings().job_threads

    base = load_strategy(args.strategy)
    strategy = base.model_copy(
        update={"model": base.model.model_copy(update={"epochs": args.epochs})}
    )
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=threads):
        root = Path(tmp)
        bars = MarketData(root).load(
            strategy.data.symbol,
            strategy.data.timeframe,
            strategy.data.train_start,
            strategy.data.train_end,
        )
        # The operations stack as the backend builds it (``ktrdr.bootstrap``): reports land
        # in memory and reach SQLite coalesced, and the training-history keeper sees each one.
        operations = build_operations(load_settings(data_dir=root, ephemeral=False))
        service = operations.service
        timings: dict[str, list[Stamp]] = {"bare": [], "ktrdr": [], "sqlite": []}
        final: dict[str, float] = {}

        def run(kind: str) -> None:
            if kind == "bare":
                timings[kind].append(bare_loop(strategy, bars))
                return
            inner: ProgressReporter = NullProgressReporter()
            if kind == "sqlite":
                op = service.create(OperationType.TRAINING)
                service.start(op.operation_id)
                inner = OperationProgressReporter(service, op.operation_id)
            clock = EpochClock(inner)
            result = train_strategy(
                strategy,
                bars,
                reporter=clock,
                token=CancellationToken(),
                models_dir=root / "models",
            )
            final.update(result.model_dump(include={"train_loss", "val_loss"}))
            timings[kind].append(per_epoch(clock.stamps))

        run("ktrdr")  # warm-up (imports, caches), not counted
        timings["ktrdr"].clear()
        kinds = ["bare", "ktrdr", "sqlite"]
        for i in range(args.repeats):
            for kind in kinds if i % 2 == 0 else kinds[::-1]:
                run(kind)
        operations.close()

    wall = {k: median([w for w, _ in runs]) for k, runs in timings.items()}
    cpu = {k: median([c for _, c in runs]) for k, runs in timings.items()}
    ratio, wall_ratio = cpu["ktrdr"] / cpu["bare"], wall["ktrdr"] / wall["bare"]
    overhead = (cpu["sqlite"] / cpu["ktrdr"] - 1) * 100
    print(
        f"Training {args.strategy}, {args.epochs} epochs, {len(bars):,} bars, "
        f"{threads} BLAS/OpenMP thread(s), median of {args.repeats}; per epoch, CPU / wall"
    )

    def both(kind: str) -> str:
        return f"{cpu[kind] * 1000:.2f} / {wall[kind] * 1000:.2f} ms"

    table(
        [
            ("bare partial_fit loop", both("bare")),
            ("ktrdr (evaluates train + validation)", both("ktrdr")),
            ("ktrdr / bare", f"{ratio:.3f}x CPU, {wall_ratio:.3f}x wall (goal <= 1.2x)"),
            ("ktrdr + progress into SQLite", both("sqlite")),
            ("progress overhead (CPU)", f"{overhead:+.2f} % (target <= 1 %)"),
            (
                "final train / validation loss",
                f"{final['train_loss']:.5f} / {final['val_loss']:.4f}",
            ),
        ]
    )
    save(
        "training_overhead",
        {
            "epochs": args.epochs,
            "threads": threads,
            "cpu_epoch_s": cpu,
            "wall_epoch_s": wall,
            "ratio_cpu": ratio,
            "ratio_wall": wall_ratio,
            "overhead_pct": overhead,
            "runs": timings,
        },
    )


if __name__ == "__main__":
    main()
