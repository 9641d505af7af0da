"""The one place the CLI makes a terminal console (rich), so commands never import rich."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from rich.console import Console
from rich.live import Live
from rich.segment import Segment
from rich.text import Text

from ktrdr.cli.output import reader_went_away, terminal_safe


class TerminalSafeConsole(Console):
    """A rich console whose printed text can hold no control characters.

    Tables, live bars and outcome lines carry text from the backend; filtering each
    segment just before it is written covers all of them at once. Segments rich marks as
    control (the cursor moves of live redraws) are its own and pass untouched."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        safe = (
            segment if segment.control else Segment(terminal_safe(segment.text), segment.style)
            for segment in buffer
        )
        return super()._render_buffer(safe)

    def on_broken_pipe(self) -> None:
        # rich's own handling exits 1; a reader that stopped reading is not a failure.
        self.quiet = True
        reader_went_away()


def stdout_console() -> Console:
    """Standard output as a rich console; no guessing colours into numbers or paths."""
    return TerminalSafeConsole(file=sys.stdout, highlight=False)


PIPED_WIDTH = 250  # columns for a table written into a pipe or a file


def listing_console() -> Console:
    """Standard output for a table: a terminal's own width; into a pipe or a file, wide
    enough that a row stays one line (rich would assume 80 columns and wrap it, and a
    reader of a file, or grep, wants one line per row)."""
    console = stdout_console()
    if not console.is_terminal:
        console.width = PIPED_WIDTH
    return console


def live_suits(console: Console, no_color: str) -> bool:
    """Whether live bars suit this console: a real terminal, and no NO_COLOR set."""
    return console.is_terminal and not no_color


def live_region(console: Console) -> Live:
    """A region redrawn only when told (every new view state), showing "Connecting..." until
    the first; it stays on screen when stopped, and prints elsewhere are not captured."""
    return Live(
        Text("Connecting...", style="dim"),
        console=console,
        auto_refresh=False,
        transient=False,
        redirect_stdout=False,
        redirect_stderr=False,
    )
