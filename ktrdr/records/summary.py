"""A listing row: what a list of operations shows, without each operation's body.

A listing (``ops list``, ``agent results``, ``agent status``) needs a few columns per
operation, not its whole result and parameters; at hundreds of thousands of operations the
difference is the whole cost of the read. The projection that builds a row from an
operation is the domain's (``ktrdr.operations.summary.summarize``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ktrdr.records.models import OperationStatus, OperationType
from ktrdr.records.wire import WireRecord

Scalar = str | int | float | bool | None


class OperationSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    parent_operation_id: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime
    percentage: float = 0.0
    current_step: str | None = None
    phase: str | None = None  # a research cycle's phase; None for other kinds
    verdict: str | None = None  # a completed research cycle's verdict
    # A few result numbers that listings show side by side (see ``headline_of``).
    headline: dict[str, Scalar] = {}
    error_message: str | None = None
    cancel_requested: bool = False
    version: int = 1

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


class Headline(WireRecord):
    """The few result numbers a listing row carries (``OperationSummary.headline``), by kind:
    a research cycle's verdict figures and buy-and-hold's, a training's validation figures,
    a backtest's metrics; ``stopped_at`` for a cancelled operation."""

    strategy_name: str | None = None
    # research cycle
    sharpe_ratio: float | None = None
    total_return: float | None = None
    max_drawdown: float | None = None
    win_rate: float | None = None
    trades: int | None = None
    score: float | None = None
    benchmark_sharpe_ratio: float | None = None
    benchmark_total_return: float | None = None
    seed: int | None = None
    designer: str | None = None
    symbol: str | None = None
    # research cycle, walk-forward: the statistics that count every try
    deflated_sharpe: float | None = None
    trials: int | None = None  # "best of N"
    pbo: float | None = None
    excess_return: float | None = None  # the holdout's, over buy-and-hold
    excess_low: float | None = None  # its bootstrap interval
    excess_high: float | None = None
    folds: int | None = None
    candidates: int | None = None
    # training
    val_accuracy: float | None = None
    val_loss: float | None = None
    epochs_completed: int | None = None
    # backtest (also sharpe_ratio and total_return)
    num_trades: int | None = None
    stopped_at: str | None = None


def headline(row: OperationSummary) -> Headline:
    """A listing row's headline numbers, typed (missing or odd ones are None)."""
    return Headline.read(row.headline) or Headline()
