"""The operations page in a real Chromium: a running training's bar moves without a
reload, and Cancel (after its confirmation dialog) ends it on screen within a second."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.browser.conftest import Tab, WebBackend


def _epoch(step_text: str) -> int:
    found = re.search(r"Epoch ([\d,]+)/", step_text)  # "Epoch 1,234/20,000"
    return int(found.group(1).replace(",", "")) if found else 0


def test_a_running_training_advances_live_and_cancel_shows_cancelled_within_a_second(
    web: WebBackend, tab: Tab
) -> None:
    reply = web.http.post("/training/start", json={"strategy": "trend_momentum", "epochs": 20000})
    assert reply.status_code == 202, reply.text
    op_id = reply.json()["data"]["operation_id"]
    page = tab.page
    page.goto(f"{web.url}/")
    page.evaluate("window.sameDocument = 'still here'")  # gone if the page reloads
    row = page.locator(f'tr[data-id="{op_id}"]')
    bar = row.locator("progress")
    step = row.locator('[data-field="step"]')
    expect(step).to_contain_text("Epoch ", timeout=15000)

    first_epoch = _epoch(step.inner_text())
    first_value = float(bar.evaluate("b => b.value"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        epoch, value = _epoch(step.inner_text()), float(bar.evaluate("b => b.value"))
        if epoch > first_epoch + 20 and value > first_value:
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError(f"the bar did not advance: epoch {first_epoch}, {first_value}%")
    assert bar.get_attribute("aria-valuenow") is not None
    assert page.evaluate("window.sameDocument") == "still here"
    expect(row.locator('[data-field="status"]')).to_have_text("running")
    assert row.locator('[data-field="elapsed"]').inner_text() not in ("", "–")
    assert row.locator('[data-field="eta"]').inner_text() not in ("", "–")

    # Changing one's mind keeps it running.
    cancel = row.get_by_role("button", name=f"Cancel training {op_id}")
    dialog = page.locator("#cancel-dialog")
    cancel.click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(op_id)
    dialog.get_by_role("button", name="Keep running").click()
    expect(dialog).to_be_hidden()
    page.wait_for_timeout(300)
    assert web.http.get(f"/operations/{op_id}").json()["data"]["status"] == "running"

    cancel.click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel it").click()
    confirmed = time.monotonic()
    expect(row.locator('[data-field="status"]')).to_have_text("cancelled", timeout=1000)
    shown_after = time.monotonic() - confirmed
    assert shown_after < 1.0, shown_after
    assert web.wait_terminal(op_id, seconds=5)["status"] == "cancelled"
    expect(row.get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)
    assert page.evaluate("window.sameDocument") == "still here"
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def test_filters_show_only_the_chosen_status_and_kind(web: WebBackend, tab: Tab) -> None:
    web.completed_cycle()
    page = tab.page
    page.goto(f"{web.url}/")
    rows = page.locator("tbody tr")
    expect(rows.first).to_be_visible()
    page.get_by_label("Kind").select_option("training")
    expect(page.locator("tbody tr:visible").first).to_be_visible()
    kinds = page.locator("tbody tr:visible .kind").all_inner_texts()
    assert kinds and all(k.lower() == "training" for k in kinds), kinds
    page.get_by_label("Status").select_option("failed")
    statuses = page.locator('tbody tr:visible [data-field="status"]').all_inner_texts()
    assert statuses and all(s.startswith("failed") for s in statuses), statuses
    page.get_by_label("Kind").select_option("")
    page.get_by_label("Status").select_option("")
    assert page.locator("tbody tr:visible").count() == rows.count()


def test_a_training_chart_grows_while_it_trains(web: WebBackend, tab: Tab) -> None:
    reply = web.http.post("/training/start", json={"strategy": "trend_momentum", "epochs": 20000})
    op_id = reply.json()["data"]["operation_id"]
    try:
        page = tab.page
        page.goto(f"{web.url}/operations/{op_id}")
        figure = page.locator('figure[data-chart="loss"]')

        def points() -> int:
            # The epochs the chart holds (none while it says "Loading…" or "No epochs yet").
            held: int = figure.evaluate("f => f.plot ? f.plot.data[0].length : 0")
            return held

        deadline = time.monotonic() + 15
        while points() < 5 and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        before = points()
        assert before >= 5, before
        while points() < before + 20 and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert points() >= before + 20, (before, points())
        summary = page.locator('figure[data-chart="loss"] p.visually-hidden').inner_text()
        assert re.search(r"Loss per epoch, \d+ epochs of 20000", summary), summary
        assert tab.log.errors == [] and tab.log.messages == [], tab.log
    finally:
        web.http.delete(f"/operations/{op_id}")
        web.wait_terminal(op_id, seconds=5)
