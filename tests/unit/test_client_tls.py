"""A client of an https backend checks its certificate; one of a plain-http backend (the
loopback default) skips loading the CA bundle it would never use."""

from __future__ import annotations

import ssl

from ktrdr.client.http import AsyncKtrdrClient, KtrdrClient


def _mode(client: KtrdrClient | AsyncKtrdrClient) -> ssl.VerifyMode:
    context = client._http._transport._pool._ssl_context  # type: ignore[union-attr]
    return ssl.VerifyMode(context.verify_mode)


def test_an_https_backend_has_its_certificate_checked_by_both_clients() -> None:
    for url in ("https://ktrdr.example:8443", "HTTPS://ktrdr.example"):
        sync, agen = KtrdrClient(url), AsyncKtrdrClient(url)
        assert _mode(sync) is ssl.CERT_REQUIRED
        assert _mode(agen) is ssl.CERT_REQUIRED
        sync.close()


def test_a_plain_http_backend_loads_no_certificates() -> None:
    client = KtrdrClient("http://127.0.0.1:8000")
    assert _mode(client) is ssl.CERT_NONE
    assert client._http.follow_redirects is False  # nothing can move the request onto TLS
    client.close()
