"""Quoting what a user sent inside a message, without ever echoing all of it.

Error messages name the value that was refused so a person can find it; a hostile or
clumsy client can send megabytes in one field, so every message quotes at most a short
excerpt and says how long the whole value was.
"""

from __future__ import annotations

EXCERPT_CHARS = 60


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` when short, else its first ``limit`` characters and the full length."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return repr(value) if isinstance(value, str) else text
    head = text[:limit]
    shown = repr(head) if isinstance(value, str) else head
    return f"{shown}… ({len(text):,} characters)"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when it was cut."""
    if len(text) <= limit:
        return text
    return f"{text[: max(limit - 1, 0)]}…"
