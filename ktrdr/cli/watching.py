"""Options and the hand-off shared by every command that starts and watches an operation."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from ktrdr.cli.options import InterruptAction
from ktrdr.cli.output import fail, friendly_errors, print_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from ktrdr.cli.views import Output
    from ktrdr.client.http import KtrdrClient
    from ktrdr.contract.operations import OperationStarted
    from ktrdr.errors import ApiError, KtrdrError

    # One typed start call of the client, e.g. ``lambda c: c.start_training(request)``.
    StartCall = Callable[[KtrdrClient], OperationStarted]

# What each explicit --progress mode draws with (auto leaves it to --plain/--json and the
# terminal).
PROGRESS_OUTPUT: dict[str, Output] = {"tty": "live", "plain": "plain", "json": "ndjson"}

PlainOutput = Annotated[
    bool, typer.Option("--plain", help="No live bars: one plain line per change.")
]


def output_mode(json_out: bool, plain: bool, progress: str = "auto") -> Output:
    """An explicit ``--progress`` wins; else ``--json`` (the final operation as one
    document), ``--plain``, or auto."""
    if progress in PROGRESS_OUTPUT:
        return PROGRESS_OUTPUT[progress]
    if json_out:
        return "json"
    return "plain" if plain else "auto"


def watch(
    base_url: str,
    operation_id: str,
    json_out: bool,
    plain: bool,
    progress: str = "auto",
    *,
    on_interrupt: InterruptAction = InterruptAction.CANCEL,
    notify: bool = False,
) -> None:
    """Follow the operation until it ends and exit with the monitor's code. What it shows
    (titles, the closing summary) follows the operation's own type; ``on_interrupt`` is
    what Ctrl+C does, ``notify`` rings the terminal when the work ends."""
    from ktrdr.cli.monitor import run_monitor
    from ktrdr.config import load_settings

    with friendly_errors():
        settings = load_settings()
    output = output_mode(json_out, plain, progress)
    code = run_monitor(
        base_url,
        operation_id,
        output=output,
        settings=settings,
        on_interrupt=on_interrupt,
        notify=notify,
    )
    raise typer.Exit(code)


@dataclass(frozen=True)
class Watching:
    """How a starting command hands over: watch (and how) or announce the id. A command
    that started the work cancels it on Ctrl+C unless told to detach."""

    watch_it: bool
    json_out: bool
    plain: bool
    no_autostart: bool
    progress: str = "auto"
    notify: bool = False
    on_interrupt: InterruptAction = InterruptAction.CANCEL


def start_and_watch(
    start: StartCall,
    what: str,
    how: Watching,
    reword: Callable[[ApiError], KtrdrError] | None = None,
) -> None:
    """Send a start request (``start``, with a model the command built), then watch the
    operation or say how to. ``reword`` may turn the backend's refusal, written for API
    callers, into the words a CLI user needs (it returns the error itself otherwise)."""
    from ktrdr.cli.backend import client_for
    from ktrdr.client.errors import ApiError

    with friendly_errors(), client_for(how.no_autostart) as client:
        try:
            started = start(client)
        except ApiError as exc:
            active = exc.details.get("active_operation_id")
            if exc.code == "cycle_already_active" and active:
                fail(
                    f"{exc.message}. Watch it: ktrdr agent status -f; "
                    f"stop it: ktrdr ops cancel {active}"
                )
            if reword is None:
                raise
            raise reword(exc) from None
        base_url = client.base_url
    if how.watch_it:
        watch(
            base_url,
            started.operation_id,
            how.json_out,
            how.plain,
            how.progress,
            on_interrupt=how.on_interrupt,
            notify=how.notify,
        )
    announce_started(started.operation_id, what, how.json_out)


def announce_started(operation_id: str, what: str, json_out: bool) -> None:
    if json_out:
        print_json({"operation_id": operation_id})
        return
    sys.stdout.write(
        f"{what} started: {operation_id}\n"
        f"  watch it:  ktrdr ops follow {operation_id}\n"
        f"  cancel it: ktrdr ops cancel {operation_id}\n"
    )
