"""Options shared by several command groups."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

import typer

# What an operation id can look like (the backend makes op_<type>_<date>_<time>_<hex>):
# the prefix is required, so `bogus` is the user's typo (exit 2, as the README promises);
# the rest is loose on purpose, so an unknown id is the backend's "not found", but never
# a path.
OPERATION_ID_SHAPE = re.compile(r"op_[A-Za-z0-9_-]{1,125}")
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
            f"not an operation id (ids look like {OPERATION_ID_EXAMPLE}: op_ then letters, "
            "digits and underscores; see `ktrdr ops list`)"
        )
    return value


OperationId = Annotated[
    str,
    typer.Argument(help="An operation id (from `ktrdr ops list`).", callback=checked_operation_id),
]


class InterruptAction(StrEnum):
    """What Ctrl+C does to the work a command watches (``--on-interrupt``)."""

    CANCEL = "cancel"  # cancel it (and its children), then say where it stopped
    DETACH = "detach"  # stop watching only: the work keeps running on the backend


OnInterrupt = Annotated[
    InterruptAction | None,
    typer.Option(
        "--on-interrupt",
        case_sensitive=False,
        show_default=False,
        help="What Ctrl+C does: cancel the work, or detach (stop watching; it keeps "
        "running, exit 4). Default: cancel for the commands that start the work, detach "
        "for those that re-attach to it (agent status -f, ops follow).",
    ),
]

Notify = Annotated[
    bool,
    typer.Option(
        "--notify",
        help="When the watched work ends: the terminal bell and a desktop notification "
        "(OSC 9). On a terminal only: never into a pipe, nor in JSON output.",
    ),
]


def checked_operation_ids(values: list[str] | None) -> list[str] | None:
    """``checked_operation_id`` for each of several ids (exit 2 on the first bad one)."""
    for value in values or []:
        checked_operation_id(value)
    return values
