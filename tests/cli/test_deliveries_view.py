"""`ops show`'s Notifications section, rendered to a string at 80 columns: each webhook's
event, receiver (origin only) and state, each attempt's time, outcome and next retry."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console

from ktrdr.cli.views.deliveries import notifications_section
from ktrdr.cli.views.tables import operation_details
from ktrdr.contract.deliveries import (
    DeliveriesPublic,
    DeliveryAttemptPublic,
    DeliveryPublic,
    DeliveryStatePublic,
)
from tests.support.snapshots import snapshot

T = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def render(renderable: object, width: int = 80) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def attempt(
    number: int, seconds: int, status: int | None, error: str | None
) -> DeliveryAttemptPublic:
    retry = T + timedelta(seconds=seconds + 5) if error else None
    return DeliveryAttemptPublic(
        number=number,
        at=T + timedelta(seconds=seconds),
        seconds=0.01,
        status_code=status,
        error=error,
        next_attempt_at=retry,
    )


def delivery(
    state: DeliveryStatePublic, attempts: list[DeliveryAttemptPublic], event: str
) -> DeliveryPublic:
    return DeliveryPublic(
        message_id="msg_1",
        event_type=event,
        subject_id="op_1",
        endpoint="https://hooks.example:8443",
        state=state,
        created_at=T,
        next_attempt_at=attempts[-1].next_attempt_at if attempts else T,
        attempts=attempts,
    )


def test_every_attempt_shows_its_time_outcome_and_next_retry() -> None:
    shown = DeliveriesPublic(
        configured=True,
        deliveries=[
            delivery(
                "delivered",
                [
                    attempt(1, 0, 500, "HTTP 500"),
                    attempt(2, 5, None, "timed out (ReadTimeout)"),
                    attempt(3, 15, 204, None),
                ],
                "operation.completed",
            ),
            delivery("due", [], "batch.ended"),
        ],
    )
    text = render(notifications_section(shown))
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines == [
        "Notifications",
        "  operation.completed → https://hooks.example:8443  delivered",
        "    #1  2026-03-01 12:00:00  HTTP 500  next retry 12:00:05",
        "    #2  2026-03-01 12:00:05  timed out (ReadTimeout)  next retry 12:00:10",
        "    #3  2026-03-01 12:00:15  HTTP 204",
        "  batch.ended → https://hooks.example:8443  retrying",
        "    not sent yet, due 2026-03-01 12:00:00",
    ]
    assert max(len(line) for line in lines) <= 80


def test_nothing_is_said_without_webhooks_and_a_note_while_none_was_sent() -> None:
    assert notifications_section(DeliveriesPublic(configured=False, deliveries=[])) is None
    waiting = render(notifications_section(DeliveriesPublic(configured=True, deliveries=[])))
    assert "no webhook sent about it (yet)" in waiting


def test_ops_show_puts_the_section_before_the_json_hint() -> None:
    op = snapshot("op_1")
    section = notifications_section(
        DeliveriesPublic(
            configured=True,
            deliveries=[delivery("gave_up", [attempt(1, 0, 503, "HTTP 503")], "operation.failed")],
        )
    )
    text = render(operation_details(op, section))
    assert text.index("Notifications") < text.index("Everything, as JSON")
    assert "operation.failed → https://hooks.example:8443  given up" in text
