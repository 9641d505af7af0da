"""The server's limits as values: the connection cap under the open-file limit, what
``server_options`` hands uvicorn, the log filter's budget on a fake clock, and the liveness
answer of /health (issue 21, items 7 and 9)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn

from ktrdr.api.limits import (
    MIN_CONNECTIONS,
    RESERVED_FILES,
    ConnectionLimits,
    LimitedH11Protocol,
    RateLimitedLog,
    server_options,
)
from ktrdr.config import Settings
from ktrdr.contract.operations import HealthPublic


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def record(message: str, *args: object, name: str = "uvicorn.error") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, None)


def test_the_cap_stays_under_the_open_file_limit() -> None:
    """Issue 21 item 7: running out of files made the backend deaf, so the cap bites first."""
    settings = Settings(max_connections=1000, header_timeout_seconds=4, body_timeout_seconds=7)
    assert ConnectionLimits.from_settings(settings, None) == ConnectionLimits(1000, 4.0, 7.0)
    assert ConnectionLimits.from_settings(settings, 1024).max_connections == 1024 - RESERVED_FILES
    assert ConnectionLimits.from_settings(settings, 65536).max_connections == 1000
    assert ConnectionLimits.from_settings(settings, 100).max_connections == MIN_CONNECTIONS


def test_server_options_are_accepted_by_uvicorn() -> None:
    """Issue 21 item 7: every option is one uvicorn's Config knows, with the settings' values."""
    settings = Settings(keep_alive_seconds=9, max_header_bytes=8192)
    options = server_options(settings)
    config = uvicorn.Config(app="ktrdr.api.app:create_app", **options)
    assert config.timeout_keep_alive == 9 and config.h11_max_incomplete_event_size == 8192
    protocol = options["http"]
    assert issubclass(protocol, LimitedH11Protocol)
    assert protocol.limits.header_timeout == settings.header_timeout_seconds
    # The filter is declared for uvicorn's handlers and asyncio's logger alike.
    logging_config: dict[str, Any] = options["log_config"]
    assert logging_config["loggers"]["asyncio"]["filters"] == ["rate_limited"]
    assert all(h["filters"] == ["rate_limited"] for h in logging_config["handlers"].values())


@pytest.mark.parametrize("bad", ["0", "-1", "inf", "nan", "99999"])
def test_limit_settings_refuse_nonsense(bad: str) -> None:
    """Issue 21 item 7: a timeout of zero, below zero, infinite or absurd is refused."""
    with pytest.raises(ValueError):
        Settings(header_timeout_seconds=bad)


def test_the_log_filter_lets_a_few_through_then_counts_the_rest() -> None:
    """Issue 21 item 7: a burst per message and window; the next one says how many went."""
    clock = FakeClock()
    limit = RateLimitedLog(burst=3, window=60.0, clock=clock)
    passed = [limit.filter(record("Invalid HTTP request received.")) for _ in range(50)]
    assert passed == [True] * 3 + [False] * 47
    # Another message, or the same one from another logger, has its own budget.
    assert limit.filter(record("Exceeded concurrency limit."))
    assert limit.filter(record("Invalid HTTP request received.", name="asyncio"))
    clock.now += 59.0
    assert not limit.filter(record("Invalid HTTP request received."))  # the same window
    clock.now += 1.0
    after = record("Invalid HTTP request received.")
    assert limit.filter(after)
    assert after.getMessage() == "Invalid HTTP request received. [48 like it were not logged]"


def test_the_first_record_after_a_drop_says_how_many_were_dropped() -> None:
    """Issue 21 item 7: the count rides on the next record let through, with its arguments."""
    clock = FakeClock()
    limit = RateLimitedLog(burst=1, window=10.0, clock=clock)
    assert limit.filter(record("%s out of files", "accept"))
    for _ in range(4):
        assert not limit.filter(record("%s out of files", "accept"))
    clock.now += 10.0
    after = record("%s out of files", "accept")
    assert limit.filter(after)
    assert after.getMessage() == "accept out of files [4 like it were not logged]"
    clock.now += 10.0
    quiet = record("%s out of files", "accept")
    assert limit.filter(quiet) and quiet.getMessage() == "accept out of files"


def test_liveness_keeps_nothing_but_service_status_and_version() -> None:
    """Issue 21 item 9: every field but these four is null, whatever fields are added later."""
    values: dict[str, Any] = {
        "pid": 4242,
        "store": "sqlite:/home/someone/.local/share/ktrdr/ktrdr.db",
        "started_at": datetime(2026, 1, 2, tzinfo=UTC),
        "active_operations": 3,
    }
    full = HealthPublic(version="9.9.9", status="degraded", **values)
    for name, field in HealthPublic.model_fields.items():
        if getattr(full, name) is None and field.annotation is not None:
            values[name] = "set" if "str" in str(field.annotation) else 1
    full = HealthPublic(version="9.9.9", status="degraded", **values)
    alive = full.liveness().model_dump()
    kept = {name: value for name, value in alive.items() if value is not None}
    assert kept == {
        "service": "ktrdr",
        "status": "degraded",
        "version": "9.9.9",
        "detail": "liveness",
    }
