"""The designer of a cycle started from a user's strategy (``ktrdr agent trigger --strategy``).

It designs nothing: candidate ``i`` is variant ``i`` of the strategy's grid (the strategy
itself without one), so a walk-forward cycle compares the grid's variants on its folds the
way it compares the built-in designer's ideas, and the classic cycle runs the strategy as
it is. The request's symbol, timeframe and epochs still override the strategy's, as they
override every designer's.
"""

from __future__ import annotations

from ktrdr.agents.design.base import DesignRequest
from ktrdr.errors import JobFailedError
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.strategies.grid import expand_grid
from ktrdr.strategies.models import StrategyConfig


class GivenStrategyDesigner:
    name = "given"

    def __init__(self, strategy: StrategyConfig) -> None:
        self.strategy = strategy
        self.variants = expand_grid(strategy)

    def design(self, request: DesignRequest, token: CancellationToken) -> StrategyConfig:
        token.raise_if_cancelled(where="Stopped before designing the strategy")
        index = 0 if request.candidate is None else request.candidate
        if not 0 <= index < len(self.variants):
            # The trigger sets the candidates to the grid's size: this is a caller's bug.
            raise JobFailedError(
                f"candidate {index + 1} was asked of strategy {self.strategy.name!r}, whose "
                f"grid makes {len(self.variants)} variant(s)"
            )
        variant = self.variants[index]
        data = variant.data.model_dump()
        if request.symbol:
            data["symbol"] = request.symbol.upper()
        if request.timeframe:
            data["timeframe"] = request.timeframe
        model = variant.model.model_dump()
        if request.epochs is not None:
            model["epochs"] = request.epochs
        return StrategyConfig.model_validate({**variant.model_dump(), "data": data, "model": model})

    @property
    def longest_horizon(self) -> int:
        """The longest label horizon among the variants: the purge a plan needs by default."""
        return max(variant.labels.horizon for variant in self.variants)
