"""The port deliveries go out through: one POST, its outcome, never an exception."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# What a receiver's failure keeps of its reason (an error page can be long).
MAX_ERROR_CHARS = 200


@dataclass(frozen=True)
class SendOutcome:
    status_code: int | None  # None: no answer (refused, timed out, TLS, ...)
    error: str | None  # None when the receiver accepted it (2xx)

    @property
    def delivered(self) -> bool:
        return self.error is None


class WebhookSender(Protocol):
    def send(self, url: str, headers: dict[str, str], body: bytes) -> SendOutcome:
        """POST ``body`` to ``url`` within the sender's timeout. The error text must not
        contain ``url`` beyond its origin (it may carry a credential)."""
        ...

    def close(self) -> None: ...


def answered(status_code: int) -> SendOutcome:
    """The outcome of an answer: 2xx is delivered, anything else (a redirect too: a
    webhook is not followed elsewhere) is a failure to retry."""
    if 200 <= status_code < 300:
        return SendOutcome(status_code, None)
    return SendOutcome(status_code, f"HTTP {status_code}")


def without_url(text: str, url: str, origin: str) -> str:
    """``text`` with ``url`` (and what follows the origin in it) replaced by its origin,
    cut to ``MAX_ERROR_CHARS``."""
    cleaned = text.replace(url, origin) if url else text
    if len(cleaned) > MAX_ERROR_CHARS:
        cleaned = cleaned[: MAX_ERROR_CHARS - 1] + "…"
    return cleaned
