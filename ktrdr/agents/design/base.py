"""What a designer is asked, and what it must answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ktrdr.operations.cancellation import CancellationToken
from ktrdr.strategies.models import StrategyConfig


@dataclass(frozen=True, kw_only=True)
class DesignRequest:
    """One request for a strategy design.

    ``now`` is passed in rather than read from a clock so that a design (its name included)
    is a pure function of the request. ``symbol``, ``timeframe`` and ``epochs`` are the
    caller's overrides; ``None`` leaves the choice to the designer. ``candidate`` is the
    0-based candidate a walk-forward cycle asks for (None: the cycle's one design); a
    designer that invents designs varies them with ``seed`` and may ignore it.
    """

    seed: int
    symbol: str | None = None
    timeframe: str | None = None
    now: datetime
    epochs: int | None = None
    candidate: int | None = None


class StrategyDesigner(Protocol):
    """Turns a request into a validated strategy.

    Raises ``StrategyValidationError`` when the design cannot be used, ``JobFailedError``
    when the designer itself failed, and ``CancellationRequested`` when ``token`` is
    cancelled while it works.
    """

    name: str

    def design(self, request: DesignRequest, token: CancellationToken) -> StrategyConfig: ...
