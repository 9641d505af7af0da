"""What a research cycle evaluates: a trigger's choices over the backend's defaults.

``folds`` 0 is the classic cycle (one design, one train/test split, one training and one
backtest); otherwise ``candidates`` designs are each walk-forwarded over ``folds`` folds,
the best is chosen on the folds and scored once on the holdout. Every choice is checked
when the cycle is triggered, so an impossible one is a 422, never a failed cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ktrdr.agents.workers.walk_forward import (
    MIN_FOLD_TEST_BARS,
    MIN_FOLD_TRAIN_BARS,
    ResearchShape,
)
from ktrdr.config import Settings
from ktrdr.errors import InvalidRequestError
from ktrdr.research.walkforward import WalkForwardMode, WalkForwardSpec, plan_walk_forward

# The longest label horizon the built-in designer picks: the purge a plan is checked with
# before the designs (and so their horizons) exist.
PLANNING_PURGE_BARS = 20


@dataclass(frozen=True)
class ShapeChoices:
    """A trigger's choices; None takes the backend's default (Settings.research_*)."""

    folds: int | None = None
    candidates: int | None = None
    mode: WalkForwardMode | None = None
    holdout_fraction: float | None = None
    purge_bars: int | None = None
    patience: int | None = None  # 0: no early stopping


def research_shape(settings: Settings, choices: ShapeChoices) -> ResearchShape | None:
    """The shape a cycle runs with; None for the classic cycle."""
    folds = settings.research_folds if choices.folds is None else choices.folds
    if folds == 0:
        if choices.candidates is not None and choices.candidates > 1:
            raise InvalidRequestError(
                "candidates need walk-forward folds to be compared on: give folds >= 1 "
                f"(or candidates 1 for a classic cycle), got folds 0 and candidates "
                f"{choices.candidates}",
                details={"field": "candidates"},
            )
        return None
    patience = settings.research_patience if choices.patience is None else choices.patience
    spec = WalkForwardSpec(
        folds=folds,
        mode=choices.mode or "anchored",
        holdout_fraction=(
            choices.holdout_fraction if choices.holdout_fraction is not None else 0.15
        ),
        purge_bars=choices.purge_bars,
    )
    candidates = settings.research_candidates if choices.candidates is None else choices.candidates
    return ResearchShape(candidates=candidates, walk_forward=spec, patience=patience or None)


def check_plan(shape: ResearchShape, bars: int) -> None:
    """Refuse a shape the series cannot hold (``StrategyValidationError``, a 422)."""
    spec = shape.walk_forward
    plan_walk_forward(
        bars,
        spec,
        purge_bars=spec.purge_for(PLANNING_PURGE_BARS),
        min_train_bars=MIN_FOLD_TRAIN_BARS,
        min_test_bars=MIN_FOLD_TEST_BARS,
    )


def shape_parameters(shape: ResearchShape | None) -> dict[str, Any]:
    """What the cycle operation records of its shape (``metadata.parameters``)."""
    if shape is None:
        return {"folds": 0, "candidates": 1}
    spec = shape.walk_forward
    return {
        "folds": spec.folds,
        "candidates": shape.candidates,
        "walk_forward_mode": spec.mode,
        "holdout_fraction": spec.holdout_fraction,
        "purge_bars": spec.purge_bars,
        "patience": shape.patience,
    }
