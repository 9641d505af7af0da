"""An ended operation's page in a real Chromium shows its webhook deliveries: the receiver
by its origin only, each attempt's outcome, and the state once the retry succeeds (the page
reads again while a delivery is due)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from tests.browser.conftest import Tab, screenshot  # noqa: E402
from tests.conftest import BackendFactory  # noqa: E402
from tests.integration.test_webhooks import SECRET  # noqa: E402
from tests.integration.test_webhooks_live import URL_SECRET_PART, cancelled_training  # noqa: E402
from tests.support.webhook_receiver import WebhookReceiver, webhook_receiver  # noqa: E402


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as started:
        yield started


def test_the_page_shows_each_attempt_and_the_delivery_once_it_succeeds(
    backend_factory: BackendFactory, receiver: WebhookReceiver, tab: Tab
) -> None:
    receiver.behaviour.answers = [500]
    backend = backend_factory(start=False)
    backend.env.update(
        {
            "KTRDR_WEBHOOK_URL": receiver.url,
            "KTRDR_WEBHOOK_SECRET": SECRET,
            "KTRDR_WEBHOOK_RETRY_FIRST_SECONDS": "5",
        }
    )
    backend.start()
    with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
        op_id = cancelled_training(http)
    receiver.wait_for(1, timeout=15)
    page = tab.page
    page.goto(f"{backend.url}/operations/{op_id}")
    section = page.locator('section[aria-label="Notifications"]')
    origin = receiver.url.split("/hooks")[0]
    expect(section.locator("h2")).to_have_text("Notifications", timeout=10000)
    expect(section.locator("tbody tr").first).to_contain_text(origin)
    expect(section).to_contain_text("operation.cancelled")
    expect(section).to_contain_text("HTTP 500")
    expect(section).to_contain_text("retrying")
    # The retry is due 4 to 6 s after the first attempt; the page reads again every 5 s.
    expect(section).to_contain_text("delivered", timeout=30000)
    expect(section).to_contain_text("HTTP 204")
    assert URL_SECRET_PART not in page.content()
    screenshot(
        page, page.url, "operation-notifications", 'section[aria-label="Notifications"] tbody'
    )
    assert not tab.log.errors and not tab.log.messages, tab.log
