"""Reading the data behind the pictures: a training's epochs and a backtest's series.

A training's epochs come from the ``TrainingHistory`` keeper while it runs (and from its
stored curve once it ended without a history, even after a restart) and from its result
(``history``) once it completed; asked for at most ``max_points``, they are thinned the way
a backtest's series is, per figure (``thin_epochs``). A backtest's series comes from its detail file
(``result_summary.detail_path``, written by the job, brought back from a cluster worker
when it ran on one), downsampled by ``ktrdr.backtesting.series``.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ktrdr.backtesting.series import downsample, drawdown
from ktrdr.contract.pictures import (
    BacktestSeriesPublic,
    TradePublic,
    TrainingHistoryPublic,
)
from ktrdr.data.bars import FloatArray
from ktrdr.errors import ConflictError, InvalidRequestError, NotFoundError
from ktrdr.operations.curves import FIGURES, EpochRow
from ktrdr.operations.reads import OperationReads
from ktrdr.operations.training_history import EpochsSoFar, TrainingHistory
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.results import (
    BenchmarkFigures,
    EpochFigures,
    TradingMetrics,
    backtest_summary_of,
    training_summary_of,
)

# Parsed detail files kept in memory: a page asks for the same backtest more than once
# (first load, then a resize), and parsing a long one is the costly part.
DETAILS_CACHED = 4
# The fewest points a thinned history may be asked for: the first and last epochs and, for
# each figure, the seven ``series.downsample`` needs to keep one bucket's lowest and
# highest beside its own pins (so each figure's extremes are always kept).
HISTORY_MIN_POINTS = 2 + len(FIGURES) * 7


# --- training ------------------------------------------------------------------------------


def training_history(
    service: OperationReads,
    keeper: TrainingHistory,
    operation_id: str,
    since: int | None,
    max_points: int | None = None,
) -> TrainingHistoryPublic:
    """The epochs after ``since`` of a training, all of them or at most ``max_points``
    (see ``thin_epochs``); see ``TrainingHistoryPublic``."""
    # The keeper first: if the training ends between the two reads, the operation read
    # second says so and its result (which has every epoch) answers instead.
    live = keeper.epochs(operation_id, since)
    op = _of_kind(service.get(operation_id), OperationType.TRAINING, "training")
    summary = training_summary_of(op)
    kept: tuple[EpochFigures, ...] = summary.history if summary is not None else ()
    if kept and op.is_terminal:
        epochs = [row for row in kept if row.epoch is not None and _after(row, since)]
        if max_points is not None:
            epochs = thin_epochs(epochs, max_points)
    else:  # running, or ended without a history in its result (cancelled, failed)
        rows = live.rows if live is not None else ()
        if max_points is not None:  # before making records: a long curve sends a few
            rows = tuple(_thin_rows(rows, max_points))
        epochs = [row.figures() for row in rows]
    return TrainingHistoryPublic(
        operation_id=op.operation_id,
        status=op.status.value,
        epochs_total=_epochs_total(op, summary.epochs_total if summary else None, live),
        epochs=epochs,
    )


def thin_epochs(epochs: Sequence[EpochFigures], max_points: int) -> list[EpochFigures]:
    """At most ``max_points`` of ``epochs`` (all of them when there are no more), in order.

    A chart of a long training must keep what a reader looks for: the first and last
    epochs, and for each figure its lowest and highest value in every stretch of epochs.
    So each figure is thinned as a backtest's equity is (``series.downsample``: per bucket
    of consecutive epochs its lowest and highest, and its deepest fall from a peak), on its
    share of the points, and the epochs kept for any figure are sent whole."""
    if len(epochs) <= max_points:  # the floor is still checked below
        return [epochs[i] for i in _thinned(np.empty((0, 0)), len(epochs), max_points)]
    table = [[getattr(epoch, name) for name in FIGURES] for epoch in epochs]
    return [epochs[i] for i in _thinned(_table(table), len(epochs), max_points)]


def _thin_rows(rows: Sequence[EpochRow], max_points: int) -> list[EpochRow]:
    """``thin_epochs`` for the keeper's rows (their values are in ``FIGURES`` order)."""
    if len(rows) <= max_points:
        return [rows[i] for i in _thinned(np.empty((0, 0)), len(rows), max_points)]
    return [rows[i] for i in _thinned(_table([row.values for row in rows]), len(rows), max_points)]


def _table(values: Sequence[Sequence[float | None]]) -> FloatArray:
    """One row per epoch, one column per figure; NaN where a figure was not reported
    (numpy reads None as NaN in a float array)."""
    return np.array(values, dtype=np.float64).reshape(len(values), len(FIGURES))


def _thinned(table: FloatArray, size: int, max_points: int) -> list[int]:
    """The positions ``thin_epochs`` keeps of ``size`` epochs, from ``table`` (one column
    per figure, NaN where it was not reported; not read when all ``size`` fit)."""
    if max_points < HISTORY_MIN_POINTS:
        raise ValueError(f"max_points must be at least {HISTORY_MIN_POINTS}, got {max_points}")
    if size <= max_points:
        return list(range(size))
    reported = [values for values in table.T if not np.isnan(values).all()]
    share = (max_points - 2) // max(len(reported), 1)
    kept = {0, size - 1}
    for values in reported:
        # Only where the figure was reported: a gap is no value, lowest or highest.
        present = np.flatnonzero(~np.isnan(values))
        kept.update(present[downsample(values[present], share).indices].tolist())
    return sorted(kept)


def _after(row: EpochFigures, since: int | None) -> bool:
    return since is None or (row.epoch is not None and row.epoch > since)


def _epochs_total(op: Operation, from_result: int | None, live: EpochsSoFar | None) -> int | None:
    if from_result is not None:
        return from_result
    if live is not None and live.epochs_total is not None:
        return int(live.epochs_total)
    planned = op.metadata.parameters.get("epochs")  # recorded when the training was created
    return planned if isinstance(planned, int) and not isinstance(planned, bool) else None


# --- backtest ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestDetail:
    """A detail file, parsed: the full curves, one value per timestamp."""

    symbol: str
    timeframe: str
    initial_capital: float
    timestamps: list[str]
    equity: FloatArray
    buy_and_hold: FloatArray | None  # None in a file written before it was recorded
    trades: list[TradePublic]
    metrics: TradingMetrics | None
    benchmark: BenchmarkFigures | None


class DetailFiles:
    """Parses detail files, keeping the last few (keyed by path, size and change time, so
    a rewritten file is read again)."""

    def __init__(self, capacity: int = DETAILS_CACHED) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._parsed: OrderedDict[tuple[str, int, int], BacktestDetail] = OrderedDict()

    def load(self, path: Path) -> BacktestDetail:
        try:
            stat = path.stat()
        except OSError:
            raise NotFoundError(
                f"The backtest's detail file {path} is missing",
                code="backtest_detail_missing",
                details={"detail_path": str(path)},
            ) from None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._parsed:
                self._parsed.move_to_end(key)
                return self._parsed[key]
        detail = _parse_detail(path)
        with self._lock:
            self._parsed[key] = detail
            while len(self._parsed) > self._capacity:
                self._parsed.popitem(last=False)
        return detail


def _parse_detail(path: Path) -> BacktestDetail:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        curve = raw["equity_curve"]
        timestamps = [str(t) for t in curve["timestamps"]]
        equity = np.asarray(curve["values"], dtype=np.float64)
        held = (raw.get("buy_and_hold_curve") or {}).get("values")
        buy_and_hold = np.asarray(held, dtype=np.float64) if held is not None else None
        if equity.size != len(timestamps) or equity.size == 0:
            raise ValueError("the equity curve and its timestamps differ in length")
        if buy_and_hold is not None and buy_and_hold.size != equity.size:
            buy_and_hold = None
        return BacktestDetail(
            symbol=str(raw["symbol"]),
            timeframe=str(raw["timeframe"]),
            initial_capital=float(raw.get("initial_capital") or equity[0]),
            timestamps=timestamps,
            equity=equity,
            buy_and_hold=buy_and_hold,
            trades=[TradePublic.model_validate(trade) for trade in raw.get("trades") or []],
            metrics=TradingMetrics.read(raw.get("metrics")),
            benchmark=BenchmarkFigures.read(raw.get("benchmark")),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NotFoundError(
            f"The backtest's detail file {path} cannot be read ({type(exc).__name__})",
            code="backtest_detail_unreadable",
            details={"detail_path": str(path)},
        ) from None


def backtest_series(
    service: OperationReads, details: DetailFiles, operation_id: str, max_points: int
) -> BacktestSeriesPublic:
    """A completed backtest's curves, at most ``max_points`` of them; see
    ``BacktestSeriesPublic``."""
    op = _of_kind(service.get(operation_id), OperationType.BACKTESTING, "backtest")
    if op.status is not OperationStatus.COMPLETED:
        raise ConflictError(
            f"Backtest {operation_id} is {op.status.value}: it has no series (only a "
            "completed backtest has one)",
            code="not_completed",
            details={"operation_id": operation_id, "status": op.status.value},
        )
    summary = backtest_summary_of(op)
    if summary is None or not summary.detail_path:
        raise NotFoundError(
            f"Backtest {operation_id} recorded no detail file",
            code="backtest_detail_missing",
            details={"operation_id": operation_id},
        )
    detail = details.load(Path(summary.detail_path))
    falls = drawdown(detail.equity, detail.initial_capital)
    kept = downsample(detail.equity, max_points, detail.initial_capital)
    picked = kept.indices
    held = detail.buy_and_hold
    return BacktestSeriesPublic(
        operation_id=op.operation_id,
        status=op.status.value,
        symbol=detail.symbol,
        timeframe=detail.timeframe,
        bars=int(detail.equity.size),
        points=int(picked.size),
        downsampled=kept.downsampled,
        initial_capital=detail.initial_capital,
        timestamps=[detail.timestamps[i] for i in picked.tolist()],
        equity=detail.equity[picked].tolist(),
        buy_and_hold=held[picked].tolist() if held is not None else [],
        drawdown=falls[picked].tolist(),
        trades=detail.trades,
        metrics=summary.metrics or detail.metrics or TradingMetrics(),
        benchmark=summary.benchmark or detail.benchmark or BenchmarkFigures(),
        strategy_name=summary.strategy_name,
    )


def _of_kind(op: Operation, kind: OperationType, noun: str) -> Operation:
    """``op`` if it is of ``kind``; else a 422 ``not_a_<noun>`` naming what it is."""
    if op.operation_type is not kind:
        raise InvalidRequestError(
            f"Operation {op.operation_id} is a {op.operation_type.value} operation, not a {noun}",
            code=f"not_a_{noun}",
            details={"operation_id": op.operation_id, "operation_type": op.operation_type.value},
        )
    return op
