"""Training: seconds per epoch, and what reporting progress costs.

The same strategy, seed and epochs are trained with a NullProgressReporter and with a real
OperationProgressReporter into an OperationsService on a SQLite file, alternating the
order over several repeats; the medians are compared in the same run.

    python -m benchmarks.training_overhead [--epochs 150] [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import median, save, table
from ktrdr.data.market import MarketData
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.models import OperationType
from ktrdr.operations.progress import NullProgressReporter, ProgressReporter
from ktrdr.operations.reporting import OperationProgressReporter
from ktrdr.operations.service import OperationsService
from ktrdr.operations.sqlite_store import SqliteOperationStore
from ktrdr.strategies.loader import load_strategy
from ktrdr.training.engine import train_strategy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strategy", default="rsi_mean_reversion")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    base = load_strategy(args.strategy)
    strategy = base.model_copy(
        update={"model": base.model.model_copy(update={"epochs": args.epochs})}
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bars = MarketData(root).load(
            strategy.data.symbol,
            strategy.data.timeframe,
            strategy.data.train_start,
            strategy.data.train_end,
        )
        service = OperationsService(SqliteOperationStore(root / "ops.db"))
        timings: dict[str, list[float]] = {"without": [], "with": []}

        def run(kind: str) -> None:
            reporter: ProgressReporter = NullProgressReporter()
            if kind == "with":
                op = service.create(OperationType.TRAINING)
                service.start(op.operation_id)
                reporter = OperationProgressReporter(service, op.operation_id)
            start = time.perf_counter()
            train_strategy(
                strategy,
                bars,
                reporter=reporter,
                token=CancellationToken(),
                models_dir=root / "models",
            )
            timings[kind].append(time.perf_counter() - start)

        run("without")  # warm-up (imports, caches), not counted
        timings["without"].clear()
        for i in range(args.repeats):
            for kind in ("without", "with") if i % 2 == 0 else ("with", "without"):
                run(kind)
        service.close()

    without, with_ = median(timings["without"]), median(timings["with"])
    overhead = (with_ / without - 1) * 100
    print(
        f"Training {args.strategy}, {args.epochs} epochs, {len(bars):,} bars, "
        f"median of {args.repeats}"
    )
    table(
        [
            ("seconds per epoch", f"{without / args.epochs * 1000:.2f} ms"),
            ("without progress", f"{without:.3f} s"),
            ("with progress into SQLite", f"{with_:.3f} s"),
            ("progress overhead", f"{overhead:+.2f} % (target ≤ 1 %)"),
        ]
    )
    save(
        "training_overhead",
        {
            "epochs": args.epochs,
            "without_s": without,
            "with_s": with_,
            "overhead_pct": overhead,
            "runs": timings,
        },
    )


if __name__ == "__main__":
    main()
