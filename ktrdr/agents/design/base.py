"""What a designer is asked, and what it must answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ktrdr.operations.cancellation import CancellationToken
from ktrdr.strategies.models import StrategyConfig


@dataclass(frozen=True)
class DesignRequest:
    seed: int
    symbol: str | None = None
    timeframe: str | None = None
    now: datetime | None = None
    epochs: int | None = None  # overrides the designed model.epochs when given


class StrategyDesigner(Protocol):
    name: str

    def design(self, request: DesignRequest, token: CancellationToken) -> StrategyConfig: ...
