"""A cycle started from a user's strategy: which settings win (the trigger's, then the
strategy's, then the backend's), and the designer that hands out the grid's variants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ktrdr.agents.design.base import DesignRequest
from ktrdr.agents.design.given import GivenStrategyDesigner
from ktrdr.config import Settings
from ktrdr.errors import InvalidRequestError, JobFailedError
from ktrdr.jobs.research_shape import ShapeChoices, research_shape
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.strategies.models import StrategyConfig

NOW = datetime(2024, 5, 1, tzinfo=UTC)
SETTINGS = Settings(research_folds=4, research_candidates=4, research_patience=10)


def strategy(**extra: Any) -> StrategyConfig:
    return StrategyConfig.model_validate(
        {
            "name": "mine",
            "indicators": [{"name": "rsi", "type": "rsi", "params": {"period": 14}}],
            **extra,
        }
    )


GRID = {"indicators.rsi.params.period": [7, 14, 21]}


def test_the_trigger_wins_then_the_strategy_then_the_backend() -> None:
    mine = strategy(walk_forward={"folds": 2, "mode": "rolling", "purge_bars": 7}, grid=GRID)
    shape = research_shape(SETTINGS, ShapeChoices(mode="anchored"), mine)
    assert shape is not None
    spec = shape.walk_forward
    assert (spec.folds, spec.mode, spec.purge_bars) == (2, "anchored", 7)
    assert spec.holdout_fraction == 0.15  # neither said: the backend's default
    assert (shape.candidates, shape.patience) == (3, 10)

    chosen = research_shape(SETTINGS, ShapeChoices(folds=3, purge_bars=0, patience=0), mine)
    assert chosen is not None
    assert (chosen.walk_forward.folds, chosen.walk_forward.purge_bars) == (3, 0)
    assert chosen.walk_forward.mode == "rolling" and chosen.patience is None


def test_a_walk_forward_section_that_leaves_folds_out_takes_the_backends() -> None:
    shape = research_shape(SETTINGS, ShapeChoices(), strategy(walk_forward={"mode": "rolling"}))
    assert shape is not None
    assert (shape.walk_forward.folds, shape.candidates) == (4, 1)  # not the designer's 4


def test_the_strategys_own_patience_is_kept_unless_the_trigger_says() -> None:
    patient = strategy(model={"patience": 3})
    shape = research_shape(SETTINGS, ShapeChoices(), patient)
    assert shape is not None and shape.patience == 3
    told = research_shape(SETTINGS, ShapeChoices(patience=5), patient)
    assert told is not None and told.patience == 5


def test_a_grid_needs_folds_and_fixes_the_candidates() -> None:
    with pytest.raises(InvalidRequestError, match="need walk-forward folds") as no_folds:
        research_shape(SETTINGS, ShapeChoices(folds=0), strategy(grid=GRID))
    assert no_folds.value.details["field"] == "folds"
    with pytest.raises(InvalidRequestError, match="makes 3 candidate") as mismatch:
        research_shape(SETTINGS, ShapeChoices(candidates=4), strategy(grid=GRID))
    assert mismatch.value.details["field"] == "candidates"
    agreed = research_shape(SETTINGS, ShapeChoices(candidates=3), strategy(grid=GRID))
    assert agreed is not None and agreed.candidates == 3
    # Without a grid and without folds: the classic cycle on the strategy.
    assert research_shape(SETTINGS, ShapeChoices(folds=0), strategy()) is None


def test_a_name_without_room_for_the_fold_names_is_refused() -> None:
    long_name = strategy(name="x" * 76, grid={"labels.horizon": [5, 10]})
    with pytest.raises(InvalidRequestError, match="at most 74 characters"):
        research_shape(SETTINGS, ShapeChoices(folds=4), long_name)


def test_the_designer_hands_out_variant_i_for_candidate_i_with_the_overrides() -> None:
    designer = GivenStrategyDesigner(strategy(grid=GRID))
    token = CancellationToken()
    designs = [
        designer.design(DesignRequest(seed=i, now=NOW, candidate=i, epochs=7), token)
        for i in range(3)
    ]
    assert [d.name for d in designs] == ["mine-g1", "mine-g2", "mine-g3"]
    assert [d.indicators[0].params["period"] for d in designs] == [7, 14, 21]
    assert {d.model.epochs for d in designs} == {7}
    moved = designer.design(DesignRequest(seed=0, now=NOW, symbol="nasdaq", timeframe="1d"), token)
    assert (moved.name, moved.data.symbol) == ("mine-g1", "NASDAQ")  # no candidate: the first
    with pytest.raises(JobFailedError, match="candidate 4"):
        designer.design(DesignRequest(seed=0, now=NOW, candidate=3), token)


def test_the_designer_of_a_strategy_without_grid_returns_it() -> None:
    mine = strategy()
    design = GivenStrategyDesigner(mine).design(DesignRequest(seed=5, now=NOW), CancellationToken())
    assert design == mine
