"""Settings that would break the backend at run time are refused when they are read, by
``load_settings`` (the one door of the server and the CLI): the API token's form, every
numeric setting finite and bounded, and an IPv6 bind host usable in URLs."""

from __future__ import annotations

import math
import secrets
import threading
from typing import cast

import httpx
import pytest
from annotated_types import Le, Lt

from ktrdr.config import Settings, load_settings
from ktrdr.errors import ConfigurationError

GOOD_TOKEN = "A-good-token_0123456789"


def refusal(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> str:
    """The one-line message ``load_settings`` refuses ``name=value`` with."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    message = refused.value.message
    assert name in message and "\n" not in message
    return message


# --- item 10: token rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "x",  # one character: guessable in a moment
        "   ",  # no client can send a header value of spaces
        "a" * 15,  # one short of the minimum
        "é" * 20,  # not ASCII: locked everyone out (latin-1 on the wire, UTF-8 in the CLI)
        "token with spaces inside",
        "tab\there-0123456789",
        "ctrl\x7f-0123456789abc",
        "emoji-🙂-0123456789",
    ],
)
def test_a_token_no_client_can_use_is_refused(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    """Item 10: a short, blank, spaced or non-ASCII KTRDR_API_TOKEN is refused, unechoed."""
    message = refusal(monkeypatch, "KTRDR_API_TOKEN", token)
    assert "16" in message and "printable ASCII" in message
    assert token not in message  # a secret never reaches a terminal or a log


def test_a_long_printable_token_is_accepted_and_an_empty_one_means_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Item 10: 16+ printable ASCII characters pass; an empty token still counts as none."""
    for token in (GOOD_TOKEN, "!" * 16, secrets.token_urlsafe(32), "~" * 200):
        monkeypatch.setenv("KTRDR_API_TOKEN", token)
        assert load_settings().token == token
    monkeypatch.setenv("KTRDR_API_TOKEN", "")
    assert load_settings().token is None
    monkeypatch.delenv("KTRDR_API_TOKEN")
    assert load_settings().token is None


def test_a_refusal_shows_plain_values_but_never_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Item 10: with several bad settings, the plain ones are shown, the token never."""
    monkeypatch.setenv("KTRDR_API_TOKEN", "short-secret")
    monkeypatch.setenv("KTRDR_PORT", "0")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert "short-secret" not in refused.value.message
    assert "KTRDR_PORT='0'" in refused.value.message  # plain settings still show the value
    assert all("short-secret" not in str(p) for p in refused.value.details["errors"])


# --- item 14: every numeric setting finite and bounded ---------------------------------------


def _numeric_fields() -> list[str]:
    return sorted(
        name
        for name, field in Settings.model_fields.items()
        if field.annotation in (int, float, int | None, float | None)
    )


def _upper_bound(name: str) -> tuple[float, bool] | None:
    """A numeric setting's upper bound, and whether the bound itself is allowed."""
    for rule in Settings.model_fields[name].metadata:
        if isinstance(rule, Le):
            return float(cast(float, rule.le)), True
        if isinstance(rule, Lt):
            return float(cast(float, rule.lt)), False
    return None


def test_every_numeric_setting_has_an_upper_bound() -> None:
    """Item 14: no numeric setting (now or added later) is left without an upper bound."""
    fields = _numeric_fields()
    assert {"port", "cancel_grace_seconds", "progress_flush_seconds", "job_threads"} <= set(fields)
    assert [name for name in fields if _upper_bound(name) is None] == []


@pytest.mark.parametrize("name", _numeric_fields())
def test_infinite_nan_and_absurd_numbers_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Item 14: inf, nan and a value past the bound are refused naming the variable."""
    variable = f"KTRDR_{name.upper()}"
    bound = _upper_bound(name)
    assert bound is not None
    past = int(bound[0]) + 1 if Settings.model_fields[name].annotation is int else bound[0] * 2
    for value in ("inf", "-inf", "nan", str(past), "1e400"):
        message = refusal(monkeypatch, variable, value)
        assert f"{variable}={value!r}" in message


@pytest.mark.parametrize("name", _numeric_fields())
def test_the_bound_itself_is_accepted(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Item 14: the bounds refuse only what is past them (the largest value still works)."""
    bound = _upper_bound(name)
    assert bound is not None and bound[1], "an open bound: test just below it instead"
    largest = int(bound[0]) if Settings.model_fields[name].annotation is int else bound[0]
    monkeypatch.setenv(f"KTRDR_{name.upper()}", str(largest))
    value = getattr(load_settings(), name)
    assert value == largest and math.isfinite(value)


def test_the_seconds_settings_stay_below_what_a_thread_can_wait() -> None:
    """Item 14: a bounded wait never overflows threading's timeout (what killed the threads)."""
    for name in ("cancel_grace_seconds", "progress_flush_seconds"):
        bound = _upper_bound(name)
        assert bound is not None and bound[0] < threading.TIMEOUT_MAX


# --- item 14: IPv6 hosts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "url_host"),
    [("::1", "[::1]"), ("[::1]", "[::1]"), ("fd00::5", "[fd00::5]"), ("127.0.0.1", "127.0.0.1")],
)
def test_an_ipv6_host_is_bracketed_in_the_url(host: str, url_host: str) -> None:
    """Item 14: KTRDR_HOST=::1 gives a base URL an HTTP client can parse."""
    settings = load_settings(host=host, port=8123)
    assert settings.base_url == f"http://{url_host}:8123"
    parsed = httpx.URL(settings.base_url)  # raised InvalidURL before
    assert parsed.port == 8123 and parsed.host == url_host.strip("[]")
    assert settings.host == url_host.strip("[]")  # what uvicorn binds: no brackets


def test_the_any_address_still_reaches_the_backend_over_loopback() -> None:
    """Item 14: "::" and "0.0.0.0" bind everywhere; the CLI talks to loopback."""
    for host in ("::", "[::]", "0.0.0.0"):
        assert load_settings(host=host, port=8001).base_url == "http://127.0.0.1:8001"


def test_a_malformed_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 14: a host no URL can carry is refused when read, not when first used."""
    for bad in ("[::1", "a b", "host:80", "::1]", "x/y"):
        refusal(monkeypatch, "KTRDR_HOST", bad)
