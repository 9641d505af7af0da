"""The options every watching command takes, declared once.

``agent trigger``, ``agent status``, ``ops follow``, ``model train`` and ``backtest run`` all
take ``--json``, ``--plain``, ``--progress``, ``--notify``, ``--on-interrupt`` and
``--no-autostart``. ``@watch_flags(default)`` adds them to a command's signature (typer reads
the signature) and hands the command one ``WatchFlags`` instead, with ``--on-interrupt``
resolved to the command's own default: cancel where the command started the work, detach
where it only re-attaches to it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ktrdr.cli.options import (
    InterruptAction,
    JsonOutput,
    NoAutostart,
    Notify,
    OnInterrupt,
    ProgressMode,
    ProgressOutput,
)
from ktrdr.cli.watching import PlainOutput, Watching, watch

_KW = inspect.Parameter.KEYWORD_ONLY
# In the order --help lists them, after the command's own options.
_PARAMETERS = (
    inspect.Parameter("json_out", _KW, default=False, annotation=JsonOutput),
    inspect.Parameter("plain", _KW, default=False, annotation=PlainOutput),
    inspect.Parameter("progress", _KW, default=ProgressMode.AUTO, annotation=ProgressOutput),
    inspect.Parameter("notify", _KW, default=False, annotation=Notify),
    inspect.Parameter("on_interrupt", _KW, default=None, annotation=OnInterrupt),
    inspect.Parameter("no_autostart", _KW, default=False, annotation=NoAutostart),
)


@dataclass(frozen=True)
class WatchFlags:
    json_out: bool
    plain: bool
    progress: str
    notify: bool
    on_interrupt: InterruptAction  # the command's default when not given
    no_autostart: bool

    def watching(self, watch_it: bool) -> Watching:
        """The hand-off of a command that starts the work (watch it, or announce it)."""
        return Watching(
            watch_it,
            self.json_out,
            self.plain,
            self.no_autostart,
            self.progress,
            self.notify,
            self.on_interrupt,
        )

    def watch(self, base_url: str, operation_id: str) -> None:
        """Follow ``operation_id`` until it ends (exits with the monitor's code)."""
        watch(
            base_url,
            operation_id,
            self.json_out,
            self.plain,
            self.progress,
            on_interrupt=self.on_interrupt,
            notify=self.notify,
        )


def watch_flags(
    default: InterruptAction,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the watching options; it declares ``flags: WatchFlags`` last."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(command, eval_str=True).parameters.values()
        kept = [p for p in own if p.name != "flags"]

        @functools.wraps(command)
        def with_flags(*args: Any, **kwargs: Any) -> None:
            given = {p.name: kwargs.pop(p.name, p.default) for p in _PARAMETERS}
            given["on_interrupt"] = given["on_interrupt"] or default
            command(*args, **kwargs, flags=WatchFlags(**given))

        with_flags.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [*kept, *_PARAMETERS], return_annotation=None
        )
        return with_flags

    return decorate
