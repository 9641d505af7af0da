"""What starting a job needs from the backend, built once by the composition root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ktrdr.data.market import MarketData
from ktrdr.operations.execution import Executor
from ktrdr.operations.service import OperationsService
from ktrdr.records.models import OperationType


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

    def create_operation(
        self,
        kind: OperationType,
        recorded: Mapping[str, object],
        parent_operation_id: str | None = None,
        parameters: Mapping[str, object] | None = None,
    ) -> str:
        """Create a job's (pending) operation, recording what it runs (``recorded``) and
        ``parameters`` (e.g. a research cycle's role, fold and candidate) in its metadata;
        the job is submitted apart, so a research cycle can keep the child's id first."""
        op = self.service.create(
            kind,
            parent_operation_id=parent_operation_id,
            parameters={**recorded, **(parameters or {})},
        )
        return op.operation_id
