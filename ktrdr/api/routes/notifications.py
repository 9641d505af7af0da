"""An operation's webhook deliveries: what was sent about it (and about its ``--count``
batch), to which receiver (origin only), and how each attempt went."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from ktrdr.api.deps import RuntimeDep
from ktrdr.contract.deliveries import DeliveriesPublic, DeliveryAttemptPublic, DeliveryPublic
from ktrdr.contract.operations import Envelope
from ktrdr.notify.deliveries import DeliveryRecord
from ktrdr.notify.endpoints import origin_of

router = APIRouter(prefix="/operations", tags=["operations"])


@router.get("/{operation_id}/deliveries")
def operation_deliveries(operation_id: str, runtime: RuntimeDep) -> Envelope[DeliveriesPublic]:
    """The webhooks sent (or still due) about this operation, oldest first, each with its
    attempts. ``configured`` false: this backend has no KTRDR_WEBHOOK_URL."""
    runtime.service.get(operation_id)  # an unknown id is a 404 like any read
    notifier = runtime.notifier
    records = notifier.deliveries(operation_id) if notifier is not None else []
    return Envelope(
        data=DeliveriesPublic(
            configured=notifier is not None, deliveries=[delivery_public(r) for r in records]
        )
    )


def delivery_public(record: DeliveryRecord) -> DeliveryPublic:
    delivery = record.delivery
    return DeliveryPublic(
        message_id=delivery.message_id,
        event_type=delivery.event_type,
        subject_id=delivery.subject_id,
        endpoint=origin_of(delivery.url),
        state=delivery.state.value,
        created_at=_moment(delivery.created_at),
        next_attempt_at=_moment(delivery.due_at) if delivery.due_at is not None else None,
        attempts=[
            DeliveryAttemptPublic(
                number=a.number,
                at=_moment(a.started_at),
                seconds=a.seconds,
                status_code=a.status_code,
                error=a.error,
                next_attempt_at=_moment(a.next_attempt_at) if a.next_attempt_at else None,
            )
            for a in record.attempts
        ],
    )


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
