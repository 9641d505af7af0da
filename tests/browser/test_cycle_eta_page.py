"""A running research cycle's ETA on the page, in a real Chromium, from a real backend (the
app in this process on loopback, the thread executor) that has completed three comparable
cycles: the cycle's page says ``ETA ~… (…–…)`` beside its clock, and the operations list
fills the cycle's ETA column, which it leaves empty for a cycle without history."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Tab
from tests.support.served import Served, served_in_process


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_in_process(tmp_path / "data", workers=2) as server:
        yield server


def _run(http: httpx.Client, epochs: int, seed: int) -> str:
    reply = http.post("/agent/trigger", json={"folds": 0, "epochs": epochs, "seed": seed})
    assert reply.status_code == 202, reply.text
    operation_id: str = reply.json()["data"]["operation_id"]
    return operation_id


def _ended(http: httpx.Client, operation_id: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status: str = http.get(f"/operations/{operation_id}").json()["data"]["status"]
        if status in ("completed", "failed", "cancelled"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"{operation_id} did not end")


def test_a_running_cycle_shows_its_learned_eta(served: Served, tab: Tab) -> None:
    with httpx.Client(base_url=served.api, timeout=10) as http:
        for seed in (1, 2, 3):
            assert _ended(http, _run(http, 20, seed)) == "completed"
        # Far longer than its history (the ETA scales by epochs): it runs while we look.
        running = _run(http, 4000, 4)
        try:
            page = tab.page
            page.goto(f"{served.base_url}/operations/{running}")
            meta = page.locator("p.meta").first
            expect(meta).to_contain_text("ETA ~", timeout=15000)
            assert re.search(r"ETA ~\d+ (s|min|h)[^(]*\(\d", meta.inner_text()), meta.inner_text()

            page.goto(f"{served.base_url}/")
            eta = page.locator(f'tr[data-id="{running}"] [data-field="eta"]')
            expect(eta).not_to_have_text(re.compile(r"^(|–)$"), timeout=15000)
        finally:
            http.delete(f"/operations/{running}")
            assert _ended(http, running) == "cancelled"
    assert tab.log.errors == [] and tab.log.messages == [], tab.log
