"""Signing as the Standard Webhooks specification says (https://www.standardwebhooks.com).

Each request carries ``webhook-id`` (the message's id: the same on every retry, so a
receiver can drop a repeat), ``webhook-timestamp`` (Unix seconds of this attempt: a
receiver refuses old ones, so each attempt is signed anew) and ``webhook-signature``:
``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``, keyed with the secret's
bytes (the base64 after ``whsec_``: ``Settings.webhook_key``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header one attempt sends."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, message_id, timestamp, body),
    }
