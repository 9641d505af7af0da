"""The "Notifications" section of `ktrdr ops show`: each webhook about the operation (and
its ``--count`` batch) with its receiver (origin only) and state, then each attempt: when,
how it went and when it is tried again. Lines, not a table: it stays whole at 80 columns."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.text import Text

from ktrdr.contract.deliveries import DeliveriesPublic, DeliveryAttemptPublic, DeliveryPublic

_STATE_STYLE = {"delivered": "green", "due": "yellow", "gave_up": "red"}
_STATE_LABEL = {"delivered": "delivered", "due": "retrying", "gave_up": "given up"}


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _attempt_line(attempt: DeliveryAttemptPublic) -> Text:
    line = Text(f"    #{attempt.number}  {_when(attempt.at)}  ")
    if attempt.error is None:
        line.append(f"HTTP {attempt.status_code}", style="green")
    else:
        line.append(attempt.error, style="red")
    retry = attempt.next_attempt_at
    if retry is not None:  # the day only when it differs: the line stays within 80 columns
        shown = retry.strftime("%H:%M:%S") if retry.date() == attempt.at.date() else _when(retry)
        line.append(f"  next retry {shown}", style="dim")
    return line


def _delivery_lines(delivery: DeliveryPublic) -> list[Text]:
    head = Text(f"  {delivery.event_type} → {delivery.endpoint}  ")
    head.append(
        _STATE_LABEL.get(delivery.state, delivery.state),
        style=_STATE_STYLE.get(delivery.state, ""),
    )
    if not delivery.attempts:
        due = delivery.next_attempt_at
        return [head, Text(f"    not sent yet{f', due {_when(due)}' if due else ''}", "dim")]
    return [head, *(_attempt_line(a) for a in delivery.attempts)]


def notifications_section(deliveries: DeliveriesPublic) -> RenderableType | None:
    """The section, or None when there is nothing to say (no webhooks configured and none
    sent)."""
    if not deliveries.configured and not deliveries.deliveries:
        return None
    title = Text("Notifications", style="bold underline")
    if not deliveries.deliveries:
        return Group(title, Text("  no webhook sent about it (yet)", style="dim"))
    return Group(title, *(line for d in deliveries.deliveries for line in _delivery_lines(d)))
