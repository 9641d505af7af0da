"""What starting a job needs from the backend, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ktrdr.data.market import MarketData
from ktrdr.operations.execution import Executor
from ktrdr.operations.service import OperationsService


@dataclass(frozen=True)
class JobDependencies:
    """The operations service records a job, the executor runs it, the market data feeds
    it, trained models and backtest details are written under the two directories, and
    strategies named in requests are read from the third."""

    service: OperationsService
    executor: Executor
    market: MarketData
    models_dir: Path
    backtests_dir: Path
    # Where strategies named in requests are looked for (besides the shipped examples);
    # None: only the shipped examples.
    strategies_dir: Path | None = None
