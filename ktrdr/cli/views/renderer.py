"""The seam between the monitor and what it draws: one Renderer protocol, and the choice of
renderer for an output mode and a terminal."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal, Protocol

from rich.console import Console

from ktrdr.cli.views.console import live_suits, stdout_console
from ktrdr.cli.views.json_output import JsonRenderer
from ktrdr.cli.views.live import LiveRenderer
from ktrdr.cli.views.ndjson import NdjsonRenderer
from ktrdr.cli.views.outcomes import OutcomeLine
from ktrdr.cli.views.plain import PlainRenderer
from ktrdr.client.follow import Event, ViewState

# auto: live bars on a terminal, plain lines elsewhere (pipes, CI, NO_COLOR); json: the
# final operation as one document; ndjson: one JSON line per change (--progress json).
Output = Literal["auto", "live", "plain", "json", "ndjson"]


class Renderer(Protocol):
    """What the monitor calls while it follows an operation, in this order: ``start``, then
    ``update`` per view state (``show_cancelling`` and ``note`` any time in between),
    ``stop`` when the follow ends, and ``finish`` with the closing lines."""

    def start(self) -> None: ...

    def update(self, state: ViewState, events: Sequence[Event] = ()) -> None: ...

    def show_cancelling(self) -> None:
        """Ctrl+C was pressed: the cancel request is on its way."""

    def note(self, text: str) -> None:
        """A message beside the view (a cancel that could not be sent, exiting at once)."""

    def stop(self) -> None:
        """Leave the terminal as it was (the live region stops redrawing); safe to repeat."""

    def finish(self, lines: Sequence[OutcomeLine]) -> None:
        """Show how the follow ended."""


def renderer_for(output: Output, *, no_color: str, console: Console | None = None) -> Renderer:
    if output == "json":
        return JsonRenderer()
    if output == "ndjson":
        return NdjsonRenderer()
    console = console or stdout_console()
    if output == "live" or (output == "auto" and live_suits(console, no_color)):
        return LiveRenderer(console, time.monotonic)
    return PlainRenderer(console)
