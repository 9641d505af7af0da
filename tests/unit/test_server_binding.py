"""Which bind addresses stay on this machine (anything else gets a warning at start)."""

from __future__ import annotations

import pytest

from ktrdr.api.guards import is_loopback
from ktrdr.config import Settings


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("my-box.example", False),
    ],
)
def test_loopback_detection(host: str, local: bool) -> None:
    assert is_loopback(host) is local


def test_the_default_bind_is_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KTRDR_HOST", raising=False)
    assert Settings().host == "127.0.0.1"
