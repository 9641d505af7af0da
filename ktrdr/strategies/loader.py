"""Strategy files: YAML (or JSON) text to a checked ``StrategyConfig`` and back.

Whatever goes wrong is a ``StrategyValidationError`` a person can act on: a syntax error
names its line and column, a schema error names the field (``indicators[1].params.period``)
and, when the text has it, the line the field is on. Indicator parameters are checked here
too, so a strategy that loads is a strategy that can compute its features.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ktrdr.errors import NotFoundError, StrategyValidationError
from ktrdr.indicators.features import feature_names, indicator_params
from ktrdr.strategies.models import StrategyConfig

_SUFFIXES = (".yaml", ".yml", ".json")
Location = tuple[str | int, ...]


def list_examples() -> list[str]:
    """Names of the strategies shipped with ktrdr (usable as ``load_strategy(name)``)."""
    folder = resources.files("ktrdr.strategies").joinpath("examples")
    return sorted(
        item.name.removesuffix(".yaml") for item in folder.iterdir() if item.name.endswith(".yaml")
    )


def load_strategy(name_or_path: str) -> StrategyConfig:
    """Load a strategy file (``.yaml``, ``.yml``, ``.json``) or a shipped example by name."""
    looks_like_path = name_or_path.lower().endswith(_SUFFIXES) or any(
        sep in name_or_path for sep in ("/", "\\")
    )
    if not looks_like_path:
        examples = list_examples()
        if name_or_path not in examples:
            raise NotFoundError(
                f"no example strategy {name_or_path!r}; examples: {', '.join(examples)}"
                " (or give a path to a .yaml/.yml/.json file)",
                details={"name": name_or_path, "examples": examples},
            )
        folder = resources.files("ktrdr.strategies").joinpath("examples")
        text = folder.joinpath(f"{name_or_path}.yaml").read_text(encoding="utf-8")
        return parse_strategy(text, source=f"{name_or_path}.yaml")

    path = Path(name_or_path)
    if path.suffix.lower() not in _SUFFIXES:
        raise StrategyValidationError(
            f"{path}: a strategy file must end in .yaml, .yml or .json",
            details={"file": str(path)},
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no such strategy file: {path}", details={"file": str(path)}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StrategyValidationError(
            f"{path}: cannot read the file ({exc})", details={"file": str(path)}
        ) from None
    return parse_strategy(text, source=path.name, is_json=path.suffix.lower() == ".json")


def parse_strategy(text: str, source: str = "<strategy>", is_json: bool = False) -> StrategyConfig:
    """Parse and check strategy text; ``source`` names it in error messages."""
    raw = _read_json(text, source) if is_json else _read_yaml(text, source)
    if not isinstance(raw, dict):
        raise StrategyValidationError(
            f"{source}: expected a mapping of strategy fields (name, indicators, ...) "
            f"at the top level, got {type(raw).__name__}",
            details={"file": source},
        )
    try:
        config = StrategyConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [
            (tuple(err["loc"]), err["msg"].removeprefix("Value error, ")) for err in exc.errors()
        ]
        raise _invalid(text, source, problems) from None
    for index, spec in enumerate(config.indicators):
        try:
            indicator_params(spec)
        except StrategyValidationError as exc:
            where = ("indicators", index, "params", str(exc.details["param"]))
            raise _invalid(text, source, [(where, exc.message)]) from None
    feature_names(config)  # raises on feature names that clash
    return config


def dump_strategy(config: StrategyConfig) -> str:
    """YAML text that ``parse_strategy`` reads back into an equal config."""
    return yaml.dump(
        config.model_dump(mode="python"),
        Dumper=_StrategyDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )


class _StrategyDumper(yaml.SafeDumper):
    """Writes strategies the way people do: ``params: {period: 14}``, ``points: [0, 20, 35]``."""


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.Node:
    # The model stores params and points as floats; a whole number reads better without ".0".
    if value.is_integer():
        return dumper.represent_int(int(value))
    return dumper.represent_float(value)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flat = all(not isinstance(item, list | dict) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat)


def _represent_dict(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.Node:
    # Short mappings of numbers (indicator params) go on one line; sections stay in blocks.
    flat = bool(value) and all(isinstance(item, int | float) for item in value.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=flat)


_StrategyDumper.add_representer(float, _represent_float)
_StrategyDumper.add_representer(list, _represent_list)
_StrategyDumper.add_representer(dict, _represent_dict)


# --- errors with field names and lines ------------------------------------------------------


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        where = f" line {line}, column {mark.column + 1}" if mark is not None else ""
        raise StrategyValidationError(
            f"{source}{where}: invalid YAML: {exc.problem or exc.context}",
            details={"file": source, "line": line},
        ) from None
    except yaml.YAMLError as exc:
        raise StrategyValidationError(
            f"{source}: invalid YAML: {exc}", details={"file": source}
        ) from None


def _read_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StrategyValidationError(
            f"{source} line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}",
            details={"file": source, "line": exc.lineno},
        ) from None


def _field(location: Location) -> str:
    """('indicators', 1, 'params') -> 'indicators[1].params'; the whole strategy is '(strategy)'."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(strategy)"


def _line_of(text: str, location: Location) -> int | None:
    """The 1-based line of the deepest node on ``location`` in the text, if it can be found."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in location:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if pair is not None:
                child = pair[1]
                line = pair[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                child = node.value[part]
                line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _invalid(
    text: str, source: str, problems: Sequence[tuple[Location, str]]
) -> StrategyValidationError:
    errors = [
        {"field": _field(loc), "message": message, "line": _line_of(text, loc)}
        for loc, message in problems
    ]
    parts = [
        f"{e['field']}" + (f" (line {e['line']})" if e["line"] else "") + f": {e['message']}"
        for e in errors
    ]
    return StrategyValidationError(
        f"{source}: " + "; ".join(parts), details={"file": source, "errors": errors}
    )


__all__ = ["dump_strategy", "list_examples", "load_strategy", "parse_strategy"]
