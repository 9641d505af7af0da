"""The one place the CLI makes a terminal console (rich), so commands never import rich."""

from __future__ import annotations

import sys

from rich.console import Console


def stdout_console() -> Console:
    """Standard output as a rich console; no guessing colours into numbers or paths."""
    return Console(file=sys.stdout, highlight=False)


def live_suits(console: Console, no_color: str) -> bool:
    """Whether live bars suit this console: a real terminal, and no NO_COLOR set."""
    return console.is_terminal and not no_color
