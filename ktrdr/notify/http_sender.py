"""The HTTP adapter of ``WebhookSender``: httpx, one pooled client, a timeout per attempt.

The one module outside ``ktrdr.client`` allowed httpx (tests/unit/test_import_rules.py):
the client calls a ktrdr backend, this calls the user's receivers. Redirects are not
followed (a 3xx is a failed attempt) and nothing of the URL beyond its origin reaches an
error message."""

from __future__ import annotations

import httpx

from ktrdr.notify.endpoints import origin_of
from ktrdr.notify.sender import SendOutcome, answered, without_url

DEFAULT_TIMEOUT_SECONDS = 10.0
USER_AGENT = "ktrdr-webhooks"


class HttpxSender:
    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            headers={"user-agent": USER_AGENT},
            # Receivers are the user's; the process's proxy settings still apply to them.
            trust_env=True,
        )

    def send(self, url: str, headers: dict[str, str], body: bytes) -> SendOutcome:
        try:
            with self._http.stream("POST", url, headers=headers, content=body) as response:
                # The answer's body is not read: the status says it all, and a receiver
                # streaming an endless body must not hold the sender.
                return answered(response.status_code)
        except httpx.TimeoutException as exc:
            reason = f"timed out ({type(exc).__name__})"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return SendOutcome(None, without_url(reason, url, origin_of(url)))

    def close(self) -> None:
        self._http.close()
