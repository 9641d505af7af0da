"""`ktrdr ops ...`: list, inspect and cancel operations."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ktrdr.cli.commands.wait import wait
from ktrdr.cli.options import (
    InterruptAction,
    JsonOutput,
    NoAutostart,
    OperationId,
    checked_operation_id,
)
from ktrdr.cli.output import EXIT_USAGE, ask, echo, fail, friendly_errors, print_json, shown_as_json
from ktrdr.cli.watch_flags import WatchFlags, watch_flags
from ktrdr.records.kinds import OperationStatus, OperationType

if TYPE_CHECKING:
    from ktrdr.client.http import KtrdrClient
    from ktrdr.contract.deliveries import DeliveriesPublic
    from ktrdr.contract.operations import OperationPublic, OperationSummaryPublic

app = typer.Typer(help="List, inspect, follow and cancel operations.", no_args_is_help=True)


def _choice(
    value: str | None, enum: type[OperationStatus] | type[OperationType], what: str
) -> None:
    if value is not None and value not in {m.value for m in enum}:
        allowed = ", ".join(m.value for m in enum)
        fail(f"unknown {what} {value!r}; choose one of: {allowed}", EXIT_USAGE)


@app.command("list")
def list_ops(
    status: Annotated[str | None, typer.Option(help="Filter by status.")] = None,
    operation_type: Annotated[
        str | None, typer.Option("--type", help="Filter by type (agent_research, ...).")
    ] = None,
    parent: Annotated[
        str | None,
        typer.Option(help="Only children of this operation.", callback=checked_operation_id),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows per page.")] = 20,
    offset: Annotated[
        int, typer.Option(min=0, help="Skip this many rows (the next page: --offset 20).")
    ] = 0,
    json_out: JsonOutput = False,
    no_autostart: NoAutostart = False,
) -> None:
    """List operations, newest first."""
    _choice(status, OperationStatus, "status")
    _choice(operation_type, OperationType, "operation type")
    with friendly_errors():
        from ktrdr.cli.backend import client_for

        with client_for(no_autostart) as client:
            ops, total = client.list_operations(
                status=status,
                operation_type=operation_type,
                parent_operation_id=parent,
                limit=limit,
                offset=offset,
            )
            elsewhere = [] if json_out else _parents_elsewhere(client, ops)
    if shown_as_json(ops, json_out):
        return
    from ktrdr.cli.views.console import listing_console
    from ktrdr.cli.views.tables import operations_listing

    console = listing_console()
    if not ops:
        console.print("No operations.")
        return
    console.print(operations_listing(ops, total, offset, console.width, elsewhere))


MAX_PARENTS_FETCHED = 20  # a page of children of many parents: the rest stay unparented


def _parents_elsewhere(
    client: KtrdrClient, ops: list[OperationSummaryPublic]
) -> list[OperationSummaryPublic]:
    """The parents of this page's children that are not on it (another page, or filtered
    out), read one by one, so that the tree never shows a child without its parent."""
    from ktrdr.client.errors import NotFoundApiError
    from ktrdr.contract.operations import OperationSummaryPublic
    from ktrdr.operations.summary import summarize

    present = {op.operation_id for op in ops}
    missing = list(
        dict.fromkeys(
            op.parent_operation_id
            for op in ops
            if op.parent_operation_id and op.parent_operation_id not in present
        )
    )
    found: list[OperationSummaryPublic] = []
    for parent_id in missing[:MAX_PARENTS_FETCHED]:
        try:
            parent = client.get_operation(parent_id)
        except NotFoundApiError:
            continue  # gone (or never known): the child stays at the top level
        row = summarize(parent).model_dump()
        found.append(OperationSummaryPublic(**row, elapsed_seconds=parent.elapsed_seconds))
    return found


@app.command("show")
def show(
    operation_id: OperationId, json_out: JsonOutput = False, no_autostart: NoAutostart = False
) -> None:
    """Show one operation with its progress, metadata, result, children and the webhooks
    sent about it."""

    def read(client: KtrdrClient) -> tuple[OperationPublic, DeliveriesPublic | None]:
        op = client.get_operation(operation_id)
        return op, None if json_out else _deliveries(client, operation_id)

    op, deliveries = ask(no_autostart, read)
    if shown_as_json(op, json_out):
        return
    from ktrdr.cli.views.console import stdout_console
    from ktrdr.cli.views.deliveries import notifications_section
    from ktrdr.cli.views.tables import operation_details

    section = notifications_section(deliveries) if deliveries is not None else None
    stdout_console().print(operation_details(op, section))


def _deliveries(client: KtrdrClient, operation_id: str) -> DeliveriesPublic | None:
    """The webhooks sent about the operation; None from a backend without the route."""
    from ktrdr.client.calls import path_segment
    from ktrdr.client.errors import ClientError
    from ktrdr.contract.deliveries import DeliveriesPublic

    try:
        answer = client.request("GET", f"/operations/{path_segment(operation_id)}/deliveries")
    except ClientError:
        return None  # an older backend, or gone since: the operation itself still shows
    return DeliveriesPublic.model_validate(answer["data"])


@app.command("cancel")
def cancel(
    operation_id: OperationId, json_out: JsonOutput = False, no_autostart: NoAutostart = False
) -> None:
    """Cancel an operation (and its running children)."""
    op = ask(no_autostart, lambda client: client.cancel_operation(operation_id))
    if json_out:
        print_json(op.model_dump(mode="json"))
        return
    state = "cancelled" if op.status is OperationStatus.CANCELLED else "cancel requested"
    echo(f"{op.operation_id}: {state}")
    if not op.durable:  # a kill would lose it: the one line the user must see
        from ktrdr.cli.output import terminal_safe

        warning = op.warning or "the cancel is not saved yet"
        sys.stderr.write(terminal_safe(f"Warning: {warning}") + "\n")


@app.command("follow")
@watch_flags(InterruptAction.DETACH)  # re-attached: looking in is harmless
def follow(
    operation_id: OperationId,
    *,
    flags: WatchFlags,
) -> None:
    """Watch any operation live (re-attach to a running cycle, training or backtest).

    Ctrl+C stops watching and leaves it running (--on-interrupt cancel: cancels it)."""

    def known(client: KtrdrClient) -> str:
        client.get_operation(operation_id)  # an unknown id fails here, clearly
        return client.base_url

    flags.watch(ask(flags.no_autostart, known), operation_id)


# `ops wait ID...` lives in its own module (ktrdr.cli.commands.wait).
app.command("wait")(wait)
