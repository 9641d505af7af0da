"""An operation's webhook deliveries on the wire (``GET /operations/{id}/deliveries``):
each message to each receiver, and every attempt with what came of it.

A receiver is shown by its origin only (``scheme://host[:port]``): its URL may carry a
credential, which never leaves the backend."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

DeliveryStatePublic = Literal["due", "delivered", "gave_up"]


class DeliveryAttemptPublic(BaseModel):
    number: int = Field(description="1 for the first attempt")
    at: datetime = Field(description="when it was sent")
    seconds: float = Field(description="how long until the answer (or the failure)")
    status_code: int | None = Field(description="the receiver's HTTP status; null: no answer")
    error: str | None = Field(description="why it failed; null when delivered")
    next_attempt_at: datetime | None = Field(description="when it is tried again, if it is")


class DeliveryPublic(BaseModel):
    message_id: str = Field(description="the webhook-id header: the same on every attempt")
    event_type: str = Field(description="operation.completed, ..., or batch.ended")
    subject_id: str = Field(description="the operation's id, or the batch's")
    endpoint: str = Field(description="the receiver's scheme://host[:port]")
    state: DeliveryStatePublic
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="when it is next sent, while due")
    attempts: list[DeliveryAttemptPublic]


class DeliveriesPublic(BaseModel):
    configured: bool = Field(description="whether this backend sends webhooks at all")
    deliveries: list[DeliveryPublic]
