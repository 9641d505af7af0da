"""Reading a strategy by name or path into the fields a training request carries.

Two doors, on purpose. ``read_strategy`` is the CLI's: the user's own machine, so a name
or any local path. ``read_named_strategy`` is the API's: a caller over HTTP names a shipped
example or a file in the data dir's strategies folder, and nothing else on the server can
be reached through it (no paths, no links out, no FIFOs or devices, a size limit), and a
refusal says nothing about what exists.

Kept apart from ``ktrdr.jobs.training`` so the CLI can read a local file without
importing the training engine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ktrdr.errors import InvalidRequestError, NotFoundError
from ktrdr.strategies.loader import list_examples, load_strategy, parse_strategy, read_strategy_file

# A name, not a path: no separators, no "..", nothing hidden.
STRATEGY_NAME = re.compile(r"(?!\.)[A-Za-z0-9_.-]{1,64}")
MAX_NAMED_STRATEGY_BYTES = 256 * 1024
_SUFFIXES = (".yaml", ".yml", ".json")


def read_strategy(name_or_path: str) -> dict[str, Any]:
    """A shipped example (by name) or a local strategy file, checked, as JSON-ready fields.

    The same shape as an inline ``strategy_config``, so a named strategy and a file sent
    by the CLI go through the same overrides and validation. For the CLI only: it reads
    any path the user gives it.
    """
    return load_strategy(name_or_path).model_dump(mode="json")


def no_such_strategy() -> InvalidRequestError:
    """The one refusal for a name that is not a strategy, whatever the reason (a path, a
    missing file, a link out, a FIFO), so it cannot be used to probe the server's files."""
    return InvalidRequestError(
        "no such strategy: give the name of a shipped example "
        f"({', '.join(list_examples())}) or of a .yaml/.yml/.json file in the data dir's "
        "strategies folder, or send the strategy itself as `strategy_config`",
        details={"field": "strategy"},
    )


def read_named_strategy(name: str, strategies_dir: Path | None) -> dict[str, Any]:
    """The strategy a request names: a shipped example, or a file in ``strategies_dir``
    (``name`` with or without its suffix), checked, as JSON-ready fields."""
    if STRATEGY_NAME.fullmatch(name) is None:
        raise no_such_strategy()
    if name in list_examples():
        return read_strategy(name)
    path = _strategy_file(name, strategies_dir)
    try:
        # The label keeps the server's own paths out of the error (only the name is shown).
        text = read_strategy_file(
            path, max_bytes=MAX_NAMED_STRATEGY_BYTES, follow_links=False, label=path.name
        )
    except NotFoundError:  # removed since it was resolved
        raise no_such_strategy() from None
    config = parse_strategy(text, source=path.name, is_json=path.suffix.lower() == ".json")
    return config.model_dump(mode="json")


def _strategy_file(name: str, strategies_dir: Path | None) -> Path:
    """The regular file inside ``strategies_dir`` that ``name`` means; links are followed
    only while they stay inside the folder."""
    if strategies_dir is None:
        raise no_such_strategy()
    try:
        root = strategies_dir.resolve(strict=True)
    except OSError:
        raise no_such_strategy() from None
    given = [name] if name.lower().endswith(_SUFFIXES) else [name + s for s in _SUFFIXES]
    for candidate in given:
        try:
            resolved = (root / candidate).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, or a link loop
            continue
        if resolved.parent != root and root not in resolved.parents:
            raise no_such_strategy()
        if not resolved.is_file():  # FIFOs, devices, folders; read again with fstat below
            raise no_such_strategy()
        return resolved
    raise no_such_strategy()


__all__ = ["MAX_NAMED_STRATEGY_BYTES", "read_named_strategy", "read_strategy"]
