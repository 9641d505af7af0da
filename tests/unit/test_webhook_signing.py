"""Webhooks' pure parts: the Standard Webhooks signature (checked against the
specification's own example, an independent HMAC and, when installed, the official
``standardwebhooks`` library), the settings' forms (the URL and secret never echoed), the
receiver shown by its origin only, and the retry schedule's bounds."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktrdr.config import load_settings, parse_webhook_urls, webhook_secret_key
from ktrdr.errors import ConfigurationError
from ktrdr.notify.endpoints import origin_of
from ktrdr.notify.retry import RetryPolicy
from ktrdr.notify.signing import new_message_id, signature, signed_headers

# The example of the specification (standard-webhooks spec.md and its libraries' tests):
# this secret, id, timestamp and body sign to this value.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
GOOD_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def independent_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The specification's recipe, written out apart from ktrdr's code."""
    key = base64.b64decode(secret.split("_", 1)[1] + "==")
    content = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def test_the_specifications_example_signs_to_its_published_value() -> None:
    key = webhook_secret_key(SPEC_SECRET)
    assert signature(key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    assert independent_signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=2**40))
def test_every_body_signs_as_the_independent_recipe(body: bytes, timestamp: int) -> None:
    message_id = "msg_fixed"
    key = webhook_secret_key(GOOD_SECRET)
    expected = independent_signature(GOOD_SECRET, message_id, timestamp, body)
    assert signature(key, message_id, timestamp, body) == expected
    # One changed byte of the body signs differently: the signature covers all of it.
    if body:
        flipped = bytes([body[0] ^ 1]) + body[1:]
        assert signature(key, message_id, timestamp, flipped) != expected


def test_the_official_library_verifies_what_ktrdr_signs() -> None:
    standardwebhooks = pytest.importorskip("standardwebhooks")
    body = b'{"type":"operation.completed"}'
    now = int(time.time())
    headers = signed_headers(webhook_secret_key(GOOD_SECRET), new_message_id(), now, body)
    assert standardwebhooks.Webhook(GOOD_SECRET).verify(body, headers) == {
        "type": "operation.completed"
    }
    tampered = dict(headers, **{"webhook-id": new_message_id()})
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(GOOD_SECRET).verify(body, tampered)


def test_headers_name_the_message_and_the_attempt() -> None:
    headers = signed_headers(webhook_secret_key(GOOD_SECRET), "msg_a", 42, b"{}")
    assert headers["webhook-id"] == "msg_a"
    assert headers["webhook-timestamp"] == "42"
    assert headers["content-type"] == "application/json"
    assert new_message_id() != new_message_id()


# --- settings: one clear line, the values never shown ----------------------------------------


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("abc", "no whsec_ prefix"),
        ("whsec_not base64!", "not base64"),
        ("whsec_" + base64.b64encode(b"k" * 8).decode(), "8 bytes: shorter than the spec's 24"),
        ("whsec_" + base64.b64encode(b"k" * 65).decode(), "65 bytes: longer than 64"),
    ],
)
def test_a_bad_secret_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, secret: str, why: str
) -> None:
    monkeypatch.setenv("KTRDR_WEBHOOK_URL", "https://hooks.example/x")
    monkeypatch.setenv("KTRDR_WEBHOOK_SECRET", secret)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    message = refused.value.message
    assert "KTRDR_WEBHOOK_SECRET" in message and "whsec_ followed by" in message, why
    assert secret not in message and "\n" not in message


def test_a_url_without_a_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KTRDR_WEBHOOK_URL", "https://hooks.example/T0K3N")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert "KTRDR_WEBHOOK_SECRET" in refused.value.message
    assert "is required when KTRDR_WEBHOOK_URL is set" in refused.value.message


@pytest.mark.parametrize(
    ("urls", "problem"),
    [
        ("ftp://hooks.example/T0K3N", "must start with http:// or https://"),
        ("https://hooks.example/ok, https:///T0K3N", "receiver 2 has no host"),
        ("https://hooks.example:99999/T0K3N", "is not a valid URL"),
        ("https://hooks.example/a T0K3N", "contains a space"),
        (",".join(f"https://h{n}.example/T0K3N" for n in range(9)), "at most 8 receivers"),
    ],
)
def test_a_bad_url_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, urls: str, problem: str
) -> None:
    monkeypatch.setenv("KTRDR_WEBHOOK_URL", urls)
    monkeypatch.setenv("KTRDR_WEBHOOK_SECRET", GOOD_SECRET)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert problem in refused.value.message
    assert "T0K3N" not in refused.value.message


def test_several_urls_are_read_in_order_without_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "KTRDR_WEBHOOK_URL", " https://a.example/1 ,https://b.example/2,,https://a.example/1"
    )
    monkeypatch.setenv("KTRDR_WEBHOOK_SECRET", GOOD_SECRET.rstrip("="))  # padding may be left out
    settings = load_settings()
    assert settings.webhook_urls == ("https://a.example/1", "https://b.example/2")
    assert settings.webhook_key == b"k" * 32
    assert GOOD_SECRET not in repr(settings) and "b.example" not in repr(settings)
    assert parse_webhook_urls("") == ()


def test_without_a_url_there_are_no_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KTRDR_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("KTRDR_WEBHOOK_SECRET", raising=False)
    settings = load_settings()
    assert settings.webhook_urls == () and settings.webhook_key is None


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://user:pass@hooks.example/T0K3N?sig=1#x", "https://hooks.example"),
        ("http://127.0.0.1:8123/hooks/T0K3N", "http://127.0.0.1:8123"),
        ("http://[::1]:9/T0K3N", "http://[::1]:9"),
    ],
)
def test_a_receiver_is_shown_by_its_origin_only(url: str, origin: str) -> None:
    assert origin_of(url) == origin


# --- the retry schedule ----------------------------------------------------------------------


def test_the_waits_double_from_the_first_up_to_the_cap() -> None:
    policy = RetryPolicy(first_delay=5, max_delay=60, give_up_after=10_000, jitter=0)
    assert [policy.nominal_delay(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


@given(
    first=st.floats(min_value=0.01, max_value=100),
    attempts=st.integers(min_value=1, max_value=500),
    elapsed=st.floats(min_value=0, max_value=200_000),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_a_retry_is_never_sooner_or_later_than_its_jitter_allows_nor_past_the_deadline(
    first: float, attempts: int, elapsed: float, seed: int
) -> None:
    policy = RetryPolicy(first_delay=first, max_delay=max(first, 3600), give_up_after=86_400)
    created, now = 1_000.0, 1_000.0 + elapsed
    due = policy.next_attempt_at(created, now, attempts, random.Random(seed))
    nominal = policy.nominal_delay(attempts)
    if due is None:  # given up: even the soonest jittered retry may be past the deadline
        assert now + nominal * (1 - policy.jitter) > created + policy.give_up_after - 1e-6
        return
    assert (
        now + nominal * (1 - policy.jitter) - 1e-6
        <= due
        <= now + nominal * (1 + policy.jitter) + 1e-6
    )
    assert due <= created + policy.give_up_after


def test_a_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(first_delay=10, max_delay=5)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.0)
