"""What a research cycle evaluates: a trigger's choices over the backend's defaults.

``folds`` 0 is the classic cycle (one design, one train/test split, one training and one
backtest); otherwise ``candidates`` designs are each walk-forwarded over ``folds`` folds,
the best is chosen on the folds and scored once on the holdout. Every choice is checked
when the cycle is triggered, so an impossible one is a 422, never a failed cycle.

A cycle started from a user's strategy compares that strategy's grid variants (its
candidates are the variants, see ``ktrdr.strategies.grid``), and the strategy's
``walk_forward`` settings come between the trigger's choices and the backend's defaults:
each field the trigger leaves out is the strategy's, then the backend's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ktrdr.agents.workers.walk_forward import ResearchShape
from ktrdr.config import Settings
from ktrdr.contract.requests import AgentTriggerRequest, TrainingStartRequest
from ktrdr.errors import InvalidRequestError
from ktrdr.jobs.training import build_strategy
from ktrdr.research.walkforward import WalkForwardMode, WalkForwardSpec
from ktrdr.strategies.grid import grid_size
from ktrdr.strategies.models import MAX_STRATEGY_NAME_LENGTH, StrategyConfig

# The longest label horizon the built-in designer picks: the purge a plan is checked with
# before the designs (and so their horizons) exist.
PLANNING_PURGE_BARS = 20
# The backend's walk-forward defaults besides the folds (those are Settings.research_folds).
DEFAULT_MODE: WalkForwardMode = "anchored"
DEFAULT_HOLDOUT_FRACTION = 0.15

T = TypeVar("T")


@dataclass(frozen=True)
class ShapeChoices:
    """A trigger's choices; None takes the backend's default (Settings.research_*)."""

    folds: int | None = None
    candidates: int | None = None
    mode: WalkForwardMode | None = None
    holdout_fraction: float | None = None
    purge_bars: int | None = None
    patience: int | None = None  # 0: no early stopping

    @classmethod
    def of(cls, request: AgentTriggerRequest) -> ShapeChoices:
        """The shape choices a trigger's body makes."""
        return cls(
            folds=request.folds,
            candidates=request.candidates,
            mode=request.walk_forward_mode,
            holdout_fraction=request.holdout_fraction,
            purge_bars=request.purge_bars,
            patience=request.patience,
        )


def given_strategy(
    name: str | None, config: dict[str, Any] | None, strategies_dir: Path | None
) -> StrategyConfig | None:
    """The strategy a trigger starts from (a name, like a training's, or inline fields),
    checked, grid included; None when it gives neither."""
    if name is None and config is None:
        return None
    request = TrainingStartRequest(strategy=name, strategy_config=config)
    return build_strategy(request, strategies_dir)


def research_shape(
    settings: Settings, choices: ShapeChoices, strategy: StrategyConfig | None = None
) -> ResearchShape | None:
    """The shape a cycle runs with; None for the classic cycle."""
    given = strategy.walk_forward if strategy is not None else None
    # Only what the strategy says: a field it leaves out is the backend's default.
    preset = given.model_dump(exclude_unset=True) if given is not None else {}
    folds = _first(choices.folds, preset.get("folds"), settings.research_folds)
    candidates = _candidates(settings, choices, folds, strategy)
    if folds == 0:
        return None
    # A strategy's own early stopping, when it has one, is what it was tuned with.
    own = strategy.model.patience if strategy is not None else None
    patience = _first(choices.patience, own, settings.research_patience)
    spec = WalkForwardSpec(
        folds=folds,
        mode=_first(choices.mode, preset.get("mode"), DEFAULT_MODE),
        holdout_fraction=_first(
            choices.holdout_fraction, preset.get("holdout_fraction"), DEFAULT_HOLDOUT_FRACTION
        ),
        purge_bars=_first(choices.purge_bars, preset.get("purge_bars"), None),
    )
    if strategy is not None:
        _check_fold_names(strategy, folds)
    return ResearchShape(candidates=candidates, walk_forward=spec, patience=patience or None)


def _first(choice: T | None, preset: T | None, default: T) -> T:
    if choice is not None:
        return choice
    return preset if preset is not None else default


def _candidates(
    settings: Settings, choices: ShapeChoices, folds: int, strategy: StrategyConfig | None
) -> int:
    if strategy is None:
        if folds == 0 and choices.candidates is not None and choices.candidates > 1:
            raise InvalidRequestError(
                "candidates need walk-forward folds to be compared on: give folds >= 1 "
                f"(or candidates 1 for a classic cycle), got folds 0 and candidates "
                f"{choices.candidates}",
                details={"field": "candidates"},
            )
        return settings.research_candidates if choices.candidates is None else choices.candidates
    variants = grid_size(strategy.grid)
    if choices.candidates is not None and choices.candidates != variants:
        raise InvalidRequestError(
            f"strategy {strategy.name!r} makes {variants} candidate(s) (its grid's variants); "
            f"leave candidates out or give {variants}, got {choices.candidates}",
            details={"field": "candidates", "variants": variants},
        )
    if folds == 0 and strategy.grid:
        raise InvalidRequestError(
            f"strategy {strategy.name!r} has a grid ({variants} variants): its variants need "
            "walk-forward folds to be compared on; give folds >= 1 (or drop the grid for a "
            "classic cycle)",
            details={"field": "folds", "variants": variants},
        )
    return variants


def _check_fold_names(strategy: StrategyConfig, folds: int) -> None:
    """A fold's training is named ``<variant>-f<k>``: refuse a name with no room for that."""
    suffix = (f"-g{grid_size(strategy.grid)}" if strategy.grid else "") + f"-f{folds}"
    if len(strategy.name) + len(suffix) > MAX_STRATEGY_NAME_LENGTH:
        room = MAX_STRATEGY_NAME_LENGTH - len(suffix)
        raise InvalidRequestError(
            f"strategy name: {len(strategy.name)} characters leave no room for its fold "
            f"trainings' names (which add {suffix!r}); use at most {room} characters",
            details={"field": "strategy.name", "most": room},
        )


def check_plan(shape: ResearchShape, bars: int, horizon: int = PLANNING_PURGE_BARS) -> None:
    """Refuse a shape the series cannot hold (``StrategyValidationError``, a 422).
    ``horizon``: the longest label horizon of the designs, when they are known already."""
    shape.plan(bars, horizon)


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
