"""What other pages and odd data can do to this one, in a real Chromium: markup in a
strategy name or an error message shows as text; a page on another origin cannot start or
cancel anything; a name re-pointed at loopback (DNS rebinding) gets no page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MARKUP, Tab, WebBackend


def test_markup_in_names_and_errors_renders_as_text(web: WebBackend, tab: Tab) -> None:
    page = tab.page
    training, cycle = web.seeded.markup_training, web.seeded.markup_cycle
    for path in ("/", f"/operations/{training}", f"/operations/{cycle}", "/results"):
        page.goto(f"{web.url}{path}")
        shown = page.get_by_text(MARKUP, exact=False).first
        expect(shown).to_be_visible()
        assert page.locator("img").count() == 0, path
        assert page.locator("main b").count() == 0, path
        page.wait_for_timeout(100)  # an onerror handler would have fired by now
    expect(page.locator(f'tr[data-id="{cycle}"]')).to_contain_text(MARKUP)
    page.goto(f"{web.url}/operations/{training}")
    expect(page.locator("[role=alert]")).to_contain_text(f"strategy {MARKUP} failed: <b>bold</b>")
    assert tab.log.dialogs == [], tab.log.dialogs
    assert tab.log.errors == [], tab.log.errors


class _AttackerPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>elsewhere</title><p>another site</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def other_origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AttackerPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


CROSS_ORIGIN_ATTEMPTS = """
async (target) => {
  const out = {};
  try {
    const r = await fetch(target + "/api/v1/agent/trigger", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
    out.json = r.status;
  } catch (e) { out.json = "blocked"; }
  try {
    const r = await fetch(target + "/api/v1/operations/" + encodeURIComponent(window.victim), {
      method: "DELETE", headers: {"Content-Type": "application/json"}});
    out.cancel = r.status;
  } catch (e) { out.cancel = "blocked"; }
  // A "simple" request needs no preflight: the browser sends it, the backend must refuse.
  const plain = await fetch(target + "/api/v1/agent/trigger", {
    method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: "{}"});
  out.plain = plain.type;
  return out;
}
"""


def test_a_page_on_another_origin_can_neither_start_nor_cancel(
    web: WebBackend, tab: Tab, other_origin: str
) -> None:
    victim = web.http.post("/training/start", json={"strategy": "trend_momentum", "epochs": 20000})
    victim_id = victim.json()["data"]["operation_id"]
    try:
        cycles_before = web.http.get("/operations?operation_type=agent_research").json()["total"]
        page = tab.page
        page.goto(other_origin)
        page.evaluate(f"window.victim = {victim_id!r}")
        outcome = page.evaluate(CROSS_ORIGIN_ATTEMPTS, web.url)
        assert outcome == {"json": "blocked", "cancel": "blocked", "plain": "opaque"}, outcome
        page.wait_for_timeout(200)
        assert web.http.get(f"/operations/{victim_id}").json()["data"]["status"] == "running"
        after = web.http.get("/operations?operation_type=agent_research").json()["total"]
        assert after == cycles_before

        # What the backend answered that page's requests (the browser hides it from them).
        for method, path, kind in (
            ("POST", "/api/v1/agent/trigger", "application/json"),
            ("POST", "/api/v1/agent/trigger", "text/plain"),
            ("DELETE", f"/api/v1/operations/{victim_id}", "application/json"),
            ("POST", "/", "text/plain"),
        ):
            reply = httpx.request(
                method,
                f"{web.url}{path}",
                headers={"Origin": other_origin, "Content-Type": kind},
                content=b"{}",
            )
            assert reply.status_code == 403, (method, path, reply.text)
            assert reply.json()["error"]["code"] == "cross_origin"
    finally:
        web.http.delete(f"/operations/{victim_id}")
        web.wait_terminal(victim_id, seconds=5)


def test_a_rebound_host_name_gets_no_page(web: WebBackend, tab: Tab) -> None:
    page = tab.page
    port = web.backend.port
    for path in ("/", "/results", "/static/ktrdr.js", "/api/v1/operations"):
        response = page.goto(f"http://rebind.example:{port}{path}")
        assert response is not None and response.status == 421, path
        assert "host_not_allowed" in response.text()
    assert page.locator("main").count() == 0
    direct = httpx.get(f"{web.url}/", headers={"Host": f"evil.example:{port}"})
    assert direct.status_code == 421
