"""Reading a strategy by name or path into the fields a training request carries.

Kept apart from ``ktrdr.jobs.training`` so the CLI can read a local file without
importing the training engine.
"""

from __future__ import annotations

from typing import Any

from ktrdr.strategies.loader import load_strategy


def read_strategy(name_or_path: str) -> dict[str, Any]:
    """A shipped example (by name) or a strategy file, checked, as JSON-ready fields.

    The same shape as an inline ``strategy_config``, so a named strategy and a file sent
    by the CLI go through the same overrides and validation.
    """
    return load_strategy(name_or_path).model_dump(mode="json")
