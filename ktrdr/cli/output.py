"""Turning results and errors into output and exit codes, the same way for every command."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

import typer

from ktrdr.errors import InvalidRequestError, KtrdrError

if TYPE_CHECKING:
    from ktrdr.client.http import KtrdrClient

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED_ELSEWHERE = 3
# Ctrl+C stopped the watching only: the work has not ended, so not 0 (a `follow && next`
# must not go on), and nothing was cancelled, so not 130.
EXIT_DETACHED = 4
EXIT_CANCELLED = 130

# C0 controls but newline and tab, DEL, and the C1 controls (0x80-0x9f, which some
# terminals read as escape sequences too).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """``text`` with every control character shown as a visible escape (``\\x1b``), so
    text from the backend (a message, a step, an LLM's words) can never move the cursor,
    clear the screen or retitle the terminal. Every line the CLI prints passes here."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    sys.stderr.write(f"Error: {terminal_safe(message)}\n")
    raise typer.Exit(code)


def reader_went_away() -> NoReturn:
    """The reader of our output closed it (``ktrdr ops list | head -1``): that is its
    choice, not our failure. Point stdout at /dev/null so no later flush can fail again,
    and exit 0 without a word."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    finally:
        os.close(devnull)
    raise SystemExit(EXIT_OK)


def echo(text: str) -> None:
    """One line of text that may hold backend text, on stdout, made terminal-safe."""
    typer.echo(terminal_safe(text))


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


def ask(no_autostart: bool, question: Callable[[KtrdrClient], T]) -> T:
    """One exchange with the backend (started first unless ``no_autostart``), any error of it
    as one clear line: what most commands do once."""
    with friendly_errors():
        from ktrdr.cli.backend import client_for

        with client_for(no_autostart) as client:
            return question(client)


def print_json(value: Any, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(json.dumps(value, indent=2, default=str) + "\n")


def _dumped(value: Any) -> Any:
    """A wire model (or a list of them) as the JSON document it travels as."""
    if isinstance(value, list):
        return [_dumped(item) for item in value]
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if dump is not None else value


def shown_as_json(value: Any, json_out: bool) -> bool:
    """With ``--json``, print ``value`` (a wire model, a list of them or plain data) as
    JSON and say so: the command then has nothing more to draw."""
    if json_out:
        print_json(_dumped(value))
    return json_out
