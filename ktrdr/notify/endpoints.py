"""Webhook receivers' addresses, shown safely.

A receiver's URL may carry a credential (``https://hooks.example/T0K3N`` or
``https://user:pass@host/``), so nothing ktrdr prints, logs or serves shows more of it
than its origin, ``scheme://host[:port]``. (The URLs are checked where they are read:
``ktrdr.config``.)"""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: no user, password, path, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "(invalid URL)"
    if ":" in host:  # IPv6 needs its brackets back
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
