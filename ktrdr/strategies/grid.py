"""A strategy's parameter grid: the values to try, and the strategies they make.

``grid`` maps a dotted path into the strategy to the values to try there::

    grid:
      indicators.rsi.params.period: [7, 14, 21]
      labels.threshold: [0.01, 0.02]

makes 3 × 2 = 6 variants named ``<name>-g1`` ... ``<name>-g6``, every combination, the
first path's values changing slowest (in the order the grid is written). A research cycle
walk-forwards each variant as one candidate and counts each as a trial in the deflated
Sharpe ratio, so a grid holds at most ``MAX_GRID_VARIANTS`` variants.

The paths a grid can vary:

- ``indicators.<name>.params.<param>``: any parameter the indicator type takes;
- ``fuzzy.<indicator>.sets.<set>.points``: a fuzzy set's points (each value a list);
- ``labels.horizon``, ``labels.threshold``;
- ``model.hidden_layers`` (each value a list of layer sizes), ``model.learning_rate``,
  ``model.l2``, ``model.batch_size``;
- ``backtest.mode``.

Costs and the data window are not among them: a grid chooses a design, not the bars it is
judged on or what trading costs.

The strategy model checks its grid with ``check_grid`` while it validates, so this module
works on the strategy's fields as plain data (``model_dump``) and never imports the model
at run time (the model imports this module).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ktrdr.excerpt import clip, excerpt
from ktrdr.strategies.indicator_params import INDICATOR_DEFAULTS

if TYPE_CHECKING:
    from ktrdr.strategies.models import StrategyConfig

MAX_GRID_VARIANTS = 64
MAX_GRID_PATHS = 8
MAX_GRID_PATH_LENGTH = 200
# How much of a variant's description says which values it has.
MAX_VARIANT_NOTE = 400

GridValue = int | float | str | list[int | float]
Fields = dict[str, Any]

# The section fields a grid can vary, and the kind of value each takes.
SECTION_PATHS: dict[str, str] = {
    "labels.horizon": "number",
    "labels.threshold": "number",
    "model.hidden_layers": "numbers",
    "model.learning_rate": "number",
    "model.l2": "number",
    "model.batch_size": "number",
    "backtest.mode": "text",
}
_KIND_WORDS = {"number": "a number", "numbers": "a list of numbers", "text": "a text"}


class GridError(ValueError):
    """A grid the strategy cannot have; ``path`` names the grid entry at fault, if one is."""

    def __init__(self, path: str | None, problem: str) -> None:
        super().__init__(f"{excerpt(path)}: {problem}" if path is not None else problem)
        self.path = path
        self.problem = problem


def grid_size(grid: Mapping[str, Sequence[GridValue]] | None) -> int:
    """How many variants ``grid`` makes (1 for no grid: the strategy itself)."""
    return math.prod(len(values) for values in grid.values()) if grid else 1


def grid_choices(grid: Mapping[str, Sequence[GridValue]]) -> list[dict[str, GridValue]]:
    """Every combination of the grid's values, variant 1 first."""
    paths = list(grid)
    return [dict(zip(paths, combo, strict=True)) for combo in itertools.product(*grid.values())]


def check_grid(
    grid: Mapping[str, Sequence[GridValue]],
    fields: Fields | None,
    validate: Callable[[Fields], object],
) -> None:
    """Refuse (``GridError``) a grid that is too big, repeats a value, names a path the
    strategy does not have, or makes a variant that is not a valid strategy.

    ``fields`` are the strategy's other fields as plain data, or None when some of them are
    invalid themselves (only the grid's own shape is checked then); ``validate`` checks a
    variant's fields (``StrategyConfig.model_validate``).
    """
    count = grid_size(grid)
    if count > MAX_GRID_VARIANTS:
        sizes = " × ".join(str(len(values)) for values in grid.values())
        raise GridError(
            None,
            f"the grid makes {count:,} variants ({sizes}), more than a research cycle compares "
            f"(at most {MAX_GRID_VARIANTS}); drop some values or paths",
        )
    for path, values in grid.items():
        repeated = [v for i, v in enumerate(values) if v in values[:i]]
        if repeated:
            raise GridError(path, f"repeats the value {excerpt(repeated[0])}")
    if fields is None or _problem(validate, fields) is not None:
        return  # the strategy's own error is reported where it is
    for path, values in grid.items():
        _, _, kind = _slot(fields, path)
        for value in values:
            if not _is_kind(value, kind):
                raise GridError(path, f"{excerpt(value)} is not {_KIND_WORDS[kind]}")
            problem = _problem(validate, _applied(fields, {path: value}))
            if problem is not None:
                raise GridError(path, f"the value {excerpt(value)} makes {problem}")
    # Each value fits alone; together they can still clash (an SMA's fast >= slow).
    for index, choice in enumerate(grid_choices(grid), start=1):
        problem = _problem(validate, variant_fields(fields, choice, index))
        if problem is not None:
            raise GridError(None, f"variant g{index} ({_note(choice)}) makes {problem}")


def variant_fields(fields: Fields, choice: Mapping[str, GridValue], index: int) -> Fields:
    """The fields of variant ``index`` (1-based): ``choice`` applied, named ``<name>-g<k>``,
    its description saying which values it has."""
    # The model imports this module at its top: its limits are read once a variant is made.
    from ktrdr.strategies.models import MAX_DESCRIPTION_LENGTH

    found = _applied(fields, choice)
    found.pop("grid", None)
    found["name"] = f"{fields['name']}-g{index}"
    note = clip(f"grid g{index}: {_note(choice)}", MAX_VARIANT_NOTE)
    base = str(fields.get("description") or "")
    room = MAX_DESCRIPTION_LENGTH - len(note) - 2
    found["description"] = f"{clip(base, room)}; {note}" if base else note
    return found


def expand_grid(strategy: StrategyConfig) -> list[StrategyConfig]:
    """Every variant of ``strategy``'s grid, each a valid strategy without a grid, in a
    stable order; ``[strategy]`` when it has no grid."""
    if not strategy.grid:
        return [strategy]
    fields = strategy.model_dump()
    return [
        type(strategy).model_validate(variant_fields(fields, choice, index))
        for index, choice in enumerate(grid_choices(strategy.grid), start=1)
    ]


def _slot(fields: Fields, path: str) -> tuple[dict[str, Any], str, str]:
    """The mapping in ``fields`` that ``path`` writes into, its key, and the value's kind."""
    parts = path.split(".")
    if len(parts) == 4 and parts[0] == "indicators" and parts[2] == "params":
        spec = _named(fields["indicators"], "name", parts[1], path, "indicator")
        takes = INDICATOR_DEFAULTS[spec["type"]]
        if parts[3] not in takes:
            raise GridError(
                path,
                f"indicator {parts[1]!r} ({spec['type']}) has no parameter "
                f"{excerpt(parts[3])} (it takes: {', '.join(takes)})",
            )
        return spec["params"], parts[3], "number"
    if len(parts) == 5 and parts[:1] + parts[2:3] + parts[4:] == ["fuzzy", "sets", "points"]:
        feature = _named(fields["fuzzy"], "indicator", parts[1], path, "fuzzy feature over")
        fuzzy_set = _named(feature["sets"], "name", parts[3], path, "fuzzy set")
        return fuzzy_set, "points", "numbers"
    kind = SECTION_PATHS.get(path)
    if kind is None:
        raise GridError(
            path,
            "not a path a grid can vary: indicators.<name>.params.<param>, "
            "fuzzy.<indicator>.sets.<set>.points, labels.horizon|threshold, "
            "model.hidden_layers|learning_rate|l2|batch_size or backtest.mode",
        )
    section, key = parts
    return fields[section], key, kind


def _named(items: list[dict[str, Any]], key: str, name: str, path: str, what: str) -> Fields:
    for item in items:
        if item[key] == name:
            return item
    known = ", ".join(str(item[key]) for item in items) or "none"
    raise GridError(path, f"the strategy has no {what} {excerpt(name)} (it has: {known})")


def _is_kind(value: object, kind: str) -> bool:
    def number(item: object) -> bool:
        return isinstance(item, int | float) and not isinstance(item, bool)

    if kind == "number":
        return number(value)
    if kind == "numbers":
        return isinstance(value, list) and all(number(item) for item in value)
    return isinstance(value, str)


def _applied(fields: Fields, choice: Mapping[str, GridValue]) -> Fields:
    found = copy.deepcopy(fields)
    for path, value in choice.items():
        target, key, _ = _slot(found, path)
        target[key] = copy.deepcopy(value)
    return found


def _problem(validate: Callable[[Fields], object], fields: Fields) -> str | None:
    """What is wrong with ``fields`` as a strategy (the first error), or None."""
    try:
        validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        return (
            f"an invalid strategy: {where}: {message}"
            if where
            else f"an invalid strategy: {message}"
        )
    return None


def _note(choice: Mapping[str, GridValue]) -> str:
    return ", ".join(f"{path}={_shown(value)}" for path, value in choice.items())


def _shown(value: GridValue) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f"{item:g}" for item in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)
