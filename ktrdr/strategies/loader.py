"""Strategy files: YAML (or JSON) text to a checked ``StrategyConfig`` and back.

Whatever goes wrong is a ``StrategyValidationError`` a person can act on: a syntax error
names its line and column, a schema error names the field (``indicators[1].params.period``)
and, when the text has it, the line the field is on. The checks themselves are the
strategy model's (``ktrdr.strategies.models``), the same for a file and an API request.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ktrdr.errors import NotFoundError, StrategyValidationError
from ktrdr.excerpt import clip, excerpt
from ktrdr.strategies.models import StrategyConfig

_SUFFIXES = (".yaml", ".yml", ".json")
# A file with thousands of mistakes gets the first few spelled out and a count of the rest.
MAX_REPORTED_ERRORS = 20
MAX_FIELD_PART = 60
MAX_STRATEGY_FILE_BYTES = 1024 * 1024
MAX_PATH_LENGTH = 4096
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
                f"no example strategy {excerpt(name_or_path)}; examples: {', '.join(examples)}"
                " (or give a path to a .yaml/.yml/.json file)",
                details={"name": clip(name_or_path, MAX_FIELD_PART), "examples": examples},
            )
        folder = resources.files("ktrdr.strategies").joinpath("examples")
        text = folder.joinpath(f"{name_or_path}.yaml").read_text(encoding="utf-8")
        return parse_strategy(text, source=f"{name_or_path}.yaml")

    shown = excerpt(name_or_path)
    if "\x00" in name_or_path or len(name_or_path) > MAX_PATH_LENGTH:
        raise StrategyValidationError(
            f"{shown}: not a usable path (NUL byte or over {MAX_PATH_LENGTH:,} characters)",
            details={"file": clip(name_or_path, MAX_FIELD_PART)},
        )
    path = Path(name_or_path)
    if path.suffix.lower() not in _SUFFIXES:
        raise StrategyValidationError(
            f"{shown}: a strategy file must end in .yaml, .yml or .json",
            details={"file": clip(name_or_path, MAX_FIELD_PART)},
        )
    text = read_strategy_file(path)
    return parse_strategy(text, source=path.name, is_json=path.suffix.lower() == ".json")


def read_strategy_file(
    path: Path,
    *,
    max_bytes: int = MAX_STRATEGY_FILE_BYTES,
    follow_links: bool = True,
    label: str | None = None,
) -> str:
    """The text of a strategy file: a regular file (not a FIFO or a device, which could
    block or never end) of at most ``max_bytes``, in UTF-8. ``follow_links=False`` refuses
    a symbolic link as the last part of the path (for paths already resolved and checked);
    ``label`` names the file in errors instead of its path."""
    name = label if label is not None else str(path)
    shown = excerpt(name)
    details = {"file": clip(name, MAX_FIELD_PART)}
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise NotFoundError(f"no such strategy file: {shown}", details=details) from None
    except OSError as exc:
        raise StrategyValidationError(
            f"{shown}: cannot read the file ({exc.strerror})", details=details
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StrategyValidationError(f"{shown}: not a regular file", details=details)
        if info.st_size > max_bytes:
            raise StrategyValidationError(
                f"{shown}: {info.st_size:,} bytes is more than a strategy file may hold "
                f"({max_bytes:,})",
                details=details,
            )
        raw = b""
        while len(raw) <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - len(raw))
            if not chunk:
                break
            raw += chunk
    except OSError as exc:
        raise StrategyValidationError(
            f"{shown}: cannot read the file ({exc.strerror})", details=details
        ) from None
    finally:
        os.close(fd)
    if len(raw) > max_bytes:  # it grew while we read it
        raise StrategyValidationError(f"{shown}: the file is too large", details=details)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StrategyValidationError(f"{shown}: not UTF-8 text", details=details) from None


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
        return StrategyConfig.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(text, source, _problems(exc)) from None
    except RecursionError:
        raise _too_deep(source) from None


def _problems(exc: ValidationError) -> list[tuple[Location, str]]:
    """Each error's location and message; an indicator parameter's error (whose name the
    model puts in the error's context) points at ``indicators[i].params.<name>``."""
    problems: list[tuple[Location, str]] = []
    for err in exc.errors():
        location: Location = tuple(err["loc"])
        param = (err.get("ctx") or {}).get("param")
        if err["type"] == "indicator_param" and isinstance(param, str):
            location = (*location, "params", param)
        problems.append((location, err["msg"].removeprefix("Value error, ")))
    return problems


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
    except RecursionError:
        raise _too_deep(source) from None


def _read_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StrategyValidationError(
            f"{source} line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}",
            details={"file": source, "line": exc.lineno},
        ) from None
    except RecursionError:
        raise _too_deep(source) from None


def _too_deep(source: str) -> StrategyValidationError:
    # The parsers recurse once per level; a strategy is a few levels deep, so text that
    # exhausts the interpreter's stack is not a strategy, whatever else it is.
    return StrategyValidationError(
        f"{source}: nested too deeply to be a strategy (lists or mappings inside each other "
        "hundreds of levels down)",
        details={"file": source},
    )


def _field(location: Location) -> str:
    """('indicators', 1, 'params') -> 'indicators[1].params'; the whole strategy is '(strategy)'.

    A part can be a key the user made up (an unknown field), so each is cut short."""
    text = ""
    for part in location:
        name = clip(str(part), MAX_FIELD_PART)
        text += f"[{name}]" if isinstance(part, int) else (f".{name}" if text else name)
    return text or "(strategy)"


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return None


def _line_of(root: yaml.Node | None, location: Location) -> int | None:
    """The 1-based line of the deepest node on ``location`` in the text, if it can be found."""
    node = root
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
    """One error for all ``problems``; at most ``MAX_REPORTED_ERRORS`` are spelled out."""
    root = _compose(text) if problems else None
    shown = problems[:MAX_REPORTED_ERRORS]
    errors = [
        {"field": _field(loc), "message": clip(message, 200), "line": _line_of(root, loc)}
        for loc, message in shown
    ]
    parts = [
        f"{e['field']}" + (f" (line {e['line']})" if e["line"] else "") + f": {e['message']}"
        for e in errors
    ]
    more = len(problems) - len(shown)
    if more:
        parts.append(f"and {more:,} more")
    details: dict[str, Any] = {"file": source, "errors": errors}
    if more:
        details["more_errors"] = more
    return StrategyValidationError(f"{source}: " + "; ".join(parts), details=details)


__all__ = ["dump_strategy", "list_examples", "load_strategy", "parse_strategy"]
