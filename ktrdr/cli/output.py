"""Turning results and errors into output and exit codes, the same way for every command."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TextIO

import typer

from ktrdr.errors import InvalidRequestError, KtrdrError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    sys.stderr.write(f"Error: {message}\n")
    raise typer.Exit(code)


def exit_code_for(exc: KtrdrError) -> int:
    from ktrdr.client.errors import ApiError

    if isinstance(exc, InvalidRequestError):
        return EXIT_USAGE
    if isinstance(exc, ApiError) and exc.status_code == 422:
        return EXIT_USAGE
    return EXIT_FAILED


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Every KtrdrError becomes one clear line on stderr and a non-zero exit."""
    try:
        yield
    except KtrdrError as exc:
        fail(exc.message, exit_code_for(exc))


def print_json(value: Any, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(json.dumps(value, indent=2, default=str) + "\n")
