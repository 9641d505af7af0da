"""The JSON "view": silent while following, then the final operation as JSON on stdout, so a
script reads one document; anything for a person goes to stderr."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from ktrdr.cli.output import print_json
from ktrdr.cli.views.outcomes import OutcomeLine
from ktrdr.client.follow import Event, ViewState


class JsonRenderer:
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        # None: the streams at the time of writing (tests swap sys.stdout)
        self._out = out
        self._err = err
        self._state: ViewState | None = None
        self.cancelling = False

    def _say(self, text: str) -> None:
        (self._err or sys.stderr).write(text + "\n")

    def start(self) -> None:
        return None

    def update(self, state: ViewState, events: Sequence[Event] = ()) -> None:
        del events  # only the last state matters
        self._state = state

    def show_cancelling(self) -> None:
        self.cancelling = True

    def note(self, text: str) -> None:
        self._say(text)

    def stop(self) -> None:
        return None

    def finish(self, lines: Sequence[OutcomeLine]) -> None:
        """The operation as JSON once it ended (or once Ctrl+C stopped the wait); when there
        is no operation to print (lost, given up), the first line says why, on stderr."""
        state = self._state
        parent = state.parent if state is not None else None
        if state is not None and parent is not None and (state.done or self.cancelling):
            print_json(parent.model_dump(mode="json"), out=self._out)
        elif lines:
            self._say(lines[0][0])
