"""A backtest as an operation: run a trained model's signals out of sample, store the detail.

The operation's result keeps the metrics and a short equity curve; the full equity curve
and every trade are written as JSON under the backtests directory (named in the result).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from ktrdr.backtesting.engine import run_backtest
from ktrdr.data.bars import instant
from ktrdr.data.market import MarketData
from ktrdr.errors import InvalidRequestError
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.execution import Executor, Job
from ktrdr.operations.models import OperationType
from ktrdr.operations.progress import ProgressReporter, ProgressUpdate
from ktrdr.operations.service import OperationsService
from ktrdr.training.model_store import TrainedModel, load_model

SUMMARY_EQUITY_POINTS = 120


@dataclass(frozen=True)
class BacktestRequest:
    model: str
    symbol: str | None = None
    timeframe: str | None = None
    start: date | None = None
    end: date | None = None
    mode: Literal["long_flat", "long_short"] | None = None
    commission: float | None = None
    slippage: float | None = None


@dataclass(frozen=True)
class ResolvedBacktest:
    model: TrainedModel
    symbol: str
    timeframe: str
    start: date
    end: date | None

    def parameters(self) -> dict[str, Any]:
        return {
            "model": str(self.model.path),
            "strategy_name": self.model.strategy.name,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "start": str(self.start),
            "end": str(self.end) if self.end else None,
            "mode": self.model.strategy.backtest.mode,
        }


def resolve_backtest(
    request: BacktestRequest, market: MarketData, models_dir: Path
) -> ResolvedBacktest:
    """Check everything a backtest needs before it becomes an operation (errors are 4xx)."""
    model = load_model(request.model, models_dir)
    strategy = model.strategy
    overrides: dict[str, Any] = {}
    if request.mode is not None:
        overrides["mode"] = request.mode
    if request.commission is not None:
        overrides["commission"] = request.commission
    if request.slippage is not None:
        overrides["slippage"] = request.slippage
    if overrides:
        backtest = strategy.backtest.model_copy(update=overrides)
        strategy = strategy.model_copy(update={"backtest": backtest})
        model = TrainedModel(
            path=model.path,
            strategy=strategy,
            classifier=model.classifier,
            scaler=model.scaler,
            feature_names=model.feature_names,
            meta=model.meta,
        )
    symbol = (request.symbol or strategy.data.symbol).upper()
    timeframe = request.timeframe or strategy.data.timeframe
    start = request.start or strategy.data.test_start
    end = request.end or strategy.data.test_end
    if end is not None and end <= start:
        raise InvalidRequestError(
            f"end ({end}) must be after start ({start})", details={"field": "end"}
        )
    train_end = strategy.data.train_end
    if symbol == strategy.data.symbol.upper() and start <= train_end:
        raise InvalidRequestError(
            f"start {start} is inside the model's training range (ends {train_end}); "
            "a backtest must be out of sample",
            details={"field": "start"},
        )
    market.load(symbol, timeframe, start, end)  # unknown symbol / empty range fail here
    return ResolvedBacktest(model, symbol, timeframe, start, end)


@dataclass(frozen=True)
class BacktestJob:
    """A backtest as a job: plain data, so it can run in a thread or a worker process."""

    operation_id: str
    resolved: ResolvedBacktest
    market: MarketData
    results_dir: Path

    def __call__(self, reporter: ProgressReporter, token: CancellationToken) -> Mapping[str, Any]:
        resolved = self.resolved
        reporter.report(ProgressUpdate(0.0, "Computing signals", context={"phase": "signals"}))
        # Indicators need history before the first traded bar; features at bar t use bars
        # up to t only, so computing them over the longer series adds no look-ahead.
        history = self.market.load(resolved.symbol, resolved.timeframe, None, resolved.end)
        positions = resolved.model.predict_positions(history)
        first = int((history.timestamps < instant(resolved.start)).sum())
        token.raise_if_cancelled(where=f"Bar 0/{len(history) - first:,}")
        bars = history.slice(first, len(history))
        result = run_backtest(
            bars,
            positions[first:],
            resolved.model.strategy.backtest,
            reporter=reporter,
            token=token,
            chunk_size=max(250, len(bars) // 20),
        )
        detail = result.to_summary()
        detail_path = _write_detail(self.results_dir, self.operation_id, detail)
        summary = result.to_summary(max_equity_points=SUMMARY_EQUITY_POINTS)
        summary.pop("trades", None)
        summary.update(
            strategy_name=resolved.model.strategy.name,
            model=str(resolved.model.path),
            trades_count=len(result.trades),
            detail_path=str(detail_path),
        )
        return summary


def backtest_job(
    operation_id: str, resolved: ResolvedBacktest, market: MarketData, results_dir: Path
) -> Job:
    return BacktestJob(operation_id, resolved, market, results_dir)


def _write_detail(results_dir: Path, operation_id: str, detail: dict[str, Any]) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    target = results_dir / f"{operation_id}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(detail), encoding="utf-8")
    os.replace(tmp, target)
    return target


def create_backtest(
    service: OperationsService, resolved: ResolvedBacktest, parent_operation_id: str | None = None
) -> str:
    op = service.create(
        OperationType.BACKTESTING,
        parent_operation_id=parent_operation_id,
        parameters=resolved.parameters(),
    )
    return op.operation_id


def submit_backtest(
    executor: Executor,
    operation_id: str,
    resolved: ResolvedBacktest,
    market: MarketData,
    results_dir: Path,
) -> None:
    executor.submit(operation_id, backtest_job(operation_id, resolved, market, results_dir))
