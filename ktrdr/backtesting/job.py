"""A backtest as a job: run a trained model's signals out of sample, store the detail.

The operation's result keeps the metrics and a short equity curve; the full equity curve,
the buy-and-hold equity on the same bars and every trade are written as JSON under the
backtests directory (named in the result; ``ktrdr.jobs.pictures`` reads it for the series).
Turning a request into such a job is ``ktrdr.jobs.backtests``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ktrdr.backtesting.engine import BacktestResult, run_backtest
from ktrdr.data.bars import instant
from ktrdr.data.market import MarketData
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.records.contexts import BacktestProgressContext
from ktrdr.records.results import BacktestSummary
from ktrdr.training.model_store import TrainedModel

SUMMARY_EQUITY_POINTS = 120


@dataclass(frozen=True)
class BacktestJob:
    """A backtest as a job: plain data, so it can run in a thread or a worker process."""

    operation_id: str
    # The trained model with the request's mode/cost overrides already applied.
    model: TrainedModel
    symbol: str
    timeframe: str
    start: date
    end: date | None  # None: up to the last bar
    market: MarketData
    results_dir: Path

    def __call__(self, reporter: ProgressReporter, token: CancellationToken) -> Mapping[str, Any]:
        signals = BacktestProgressContext(phase="signals").to_dict()
        reporter.report(ProgressUpdate(0.0, "Computing signals", context=signals))
        # Indicators need history before the first traded bar; features at bar t use bars
        # up to t only, so computing them over the longer series adds no look-ahead.
        history = self.market.load(self.symbol, self.timeframe, None, self.end)
        positions = self.model.predict_positions(history)
        first = int((history.timestamps < instant(self.start)).sum())
        token.raise_if_cancelled(where=f"Bar 0/{len(history) - first:,}")
        bars = history.slice(first, len(history))
        result = run_backtest(
            bars,
            positions[first:],
            self.model.strategy.backtest,
            reporter=reporter,
            token=token,
            chunk_size=max(250, len(bars) // 20),
        )
        detail = result.to_detail()
        detail_path = _write_detail(self.results_dir, self.operation_id, detail)
        return backtest_summary(result, self.model, detail_path).to_dict()


def backtest_summary(
    result: BacktestResult, model: TrainedModel, detail_path: Path
) -> BacktestSummary:
    """What the backtest operation keeps as its result: the engine's figures and a thinned
    equity curve (every trade and the whole curve are in ``detail_path``)."""
    return result.summary(
        max_equity_points=SUMMARY_EQUITY_POINTS,
        strategy_name=model.strategy.name,
        model=str(model.path),
        detail_path=str(detail_path),
    )


def _write_detail(results_dir: Path, operation_id: str, detail: dict[str, Any]) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    target = results_dir / f"{operation_id}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(detail), encoding="utf-8")
    os.replace(tmp, target)
    return target
