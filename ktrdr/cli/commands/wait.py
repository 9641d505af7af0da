"""`ktrdr ops wait ID...`: the command (the waiting itself is ``ktrdr.cli.ops_wait``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ktrdr.cli.options import NoAutostart, Notify, checked_operation_ids
from ktrdr.cli.output import ask, friendly_errors

if TYPE_CHECKING:
    from ktrdr.client.http import KtrdrClient

OperationIds = Annotated[
    list[str],
    typer.Argument(
        help="Operation ids (from `ktrdr ops list`).",
        metavar="ID",
        callback=checked_operation_ids,
    ),
]
ExitStatus = Annotated[
    bool,
    typer.Option(
        "--exit-status",
        help="Exit non-zero unless all completed: 1 if any failed, else 3 if any was "
        "cancelled (without it: 0 once all ended).",
    ),
]


def wait(
    operation_ids: OperationIds,
    exit_status: ExitStatus = False,
    notify: Notify = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object per line as each one ends.")
    ] = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Wait until all of them have ended, a line for each as it ends.

    Each line: id, kind, status and a headline (a verdict, a figure, an error).

    Ctrl+C stops waiting and never cancels anything (exit 4)."""
    ids = list(dict.fromkeys(operation_ids))

    def known(client: KtrdrClient) -> str:
        for operation_id in ids:
            client.get_operation(operation_id)  # an unknown id fails here, clearly
        return client.base_url

    base_url = ask(no_autostart, known)
    from ktrdr.cli.ops_wait import run_wait
    from ktrdr.config import load_settings

    with friendly_errors():
        settings = load_settings()
    code = run_wait(
        base_url, ids, settings, json_out=json_out, exit_status=exit_status, notify=notify
    )
    raise typer.Exit(code)
