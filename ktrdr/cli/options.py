"""Options shared by several command groups."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

import typer

# What an operation id can look like (the backend makes op_<type>_<date>_<time>_<hex>);
# loose on purpose, so an unknown id is the backend's "not found", but never a path.
OPERATION_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,128}")
OPERATION_ID_EXAMPLE = "op_training_20250101_120000_1a2b3c4d"

NoAutostart = Annotated[
    bool,
    typer.Option(
        "--no-autostart",
        help="Never start a local backend; fail if none answers (also KTRDR_AUTOSTART=0).",
    ),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class ProgressMode(StrEnum):
    """How a watching command shows progress (``--progress``)."""

    AUTO = "auto"  # live bars on a terminal, plain lines elsewhere (or --plain / --json)
    TTY = "tty"  # live bars, whatever stdout is
    PLAIN = "plain"  # one plain line per change
    JSON = "json"  # NDJSON: one JSON object per change, flushed per line


ProgressOutput = Annotated[
    ProgressMode,
    typer.Option(
        "--progress",
        case_sensitive=False,
        help="auto: live bars on a terminal, plain lines elsewhere; tty: live bars; "
        "plain: one line per change; json: one JSON object per change (NDJSON, for "
        "tools and CI logs).",
    ),
]


def checked_operation_id(value: str | None) -> str | None:
    """A usage error (exit 2) for anything that cannot be an operation id, before it gets
    near a URL: ``x/../op_y`` must not reach ``op_y``, and a control character or a
    100,000-character id is the user's mistake, not an unexpected error. The value is not
    echoed: it may be long or hold escape sequences."""
    if value is not None and OPERATION_ID_SHAPE.fullmatch(value) is None:
        raise typer.BadParameter(
            f"not an operation id (ids look like {OPERATION_ID_EXAMPLE}: letters, digits "
            "and underscores; see `ktrdr ops list`)"
        )
    return value


OperationId = Annotated[
    str,
    typer.Argument(help="An operation id (from `ktrdr ops list`).", callback=checked_operation_id),
]
