"""A walk-forward research cycle in a real Chromium against a real backend: its children as a
grid of candidates × folds (each a status bar linking to its page), kept live as the tree
changes; once completed, the walk-forward section (windows, fold Sharpes with the chosen
candidate marked, deflated Sharpe, PBO, the holdout's excess return, the cost cases); the
results table's statistics columns and its order by deflated Sharpe; an older cycle shown as
before. Screenshots in light and dark, 1280 and 390 px wide, go to the artefacts folder.

Most cycles are written into the backend's database before it starts (see
``walk_forward_seed``), their children carrying the role, fold and candidate the research
worker gives them, so every case (a failed fold, an older cycle) is there on demand; one
cycle is run by the worker itself, followed live from its first child to its statistics.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

# conftest.py skips the folder's other page tests without Playwright by name; this one skips
# itself (test_browser_available.py still says what is missing, and fails in CI).
pytest.importorskip("playwright.sync_api")

from playwright.sync_api import Browser, Locator, Page, Route, expect  # noqa: E402

from tests.browser.conftest import Tab, artifacts_dir  # noqa: E402
from tests.browser.walk_forward_seed import (  # noqa: E402
    BROKEN,
    CANDIDATES,
    CHOSEN,
    FOLDS,
    Seeded,
    child_key,
    cycle_context,
    seed_backend,
)
from tests.support.live_backend import LiveBackend  # noqa: E402


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[Seeded]:
    backend, seeded = seed_backend(tmp_path_factory.mktemp("walk-forward-backend"))
    try:
        yield seeded
    finally:
        backend.kill()


def _bar(page: Page, op_id: str) -> Locator:
    return page.locator(f'table.wf-grid a.wf-bar[data-id="{op_id}"]')


def test_a_completed_cycle_shows_every_child_in_its_cell_of_the_grid(
    seeded: Seeded, tab: Tab
) -> None:
    page = tab.page
    page.goto(f"{seeded.url}/operations/{seeded.cycle}")
    grid = page.locator("table.wf-grid")
    expect(grid.locator("tbody tr")).to_have_count(CANDIDATES)
    heads = grid.locator("thead th").all_inner_texts()
    assert heads == ["Candidate", "Fold 1", "Fold 2", "Fold 3", "Fold 4", "Final", "Holdout"]
    expect(grid.locator("a.wf-bar")).to_have_count(len(seeded.children))
    # Each bar sits in its cell: row candidate + 1; column fold + 2, then Final, Holdout.
    for key, op_id in seeded.children.items():
        role, candidate, what = key.split(" ")[0], int(key.split(" ")[1][1:]), key.split(" ")[-1]
        column = int(what[1:]) + 2 if role == "fold" else FOLDS + (2 if role == "final" else 3)
        cell = grid.locator(f"tbody tr:nth-child({candidate + 1}) > :nth-child({column})")
        expect(cell.locator(f'a[data-id="{op_id}"]')).to_have_count(1)
        assert _bar(page, op_id).get_attribute("href") == f"/operations/{op_id}"
    failed = _bar(page, seeded.children[child_key("fold", BROKEN, True, fold=2)])
    expect(failed).to_have_class("wf-bar st-failed")
    title = failed.get_attribute("title") or ""
    assert title.startswith(f"Training · candidate {BROKEN + 1} · fold 3: failed"), title
    expect(_bar(page, seeded.children[child_key("fold", 0, False)])).to_have_class(
        "wf-bar st-completed"
    )
    holdout = grid.locator(f"tbody tr:nth-child({CHOSEN + 1}) td.wf-holdout a.wf-bar")
    assert holdout.all_inner_texts() == ["×0", "×1", "×2"]
    expect(grid.locator("tbody tr.chosen")).to_have_attribute("data-candidate", str(CHOSEN))
    expect(grid.locator("tbody tr.chosen th")).to_contain_text("chosen")
    # Charts only for the chosen candidate's final training and its holdout at ×1.
    expect(page.locator('figure[data-chart="equity"]')).to_be_visible(timeout=10000)
    loss = page.locator('figure[data-chart="loss"]')
    expect(loss.locator("canvas")).to_be_attached()
    assert loss.evaluate("f => f.plot.data[1].filter(v => v !== null).length") == seeded.epochs
    expect(page.get_by_role("heading", name="Final training (chosen candidate)")).to_be_visible()
    expect(page.get_by_role("heading", name="Holdout backtest (full page)")).to_be_visible()
    holdout_x1 = seeded.children[child_key("holdout", CHOSEN, False, cost=1)]
    assert page.locator(f'a[href="/backtests/{holdout_x1}"]').count() == 1
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def test_a_completed_cycle_shows_its_walk_forward_statistics(seeded: Seeded, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{seeded.url}/operations/{seeded.cycle}")
    section = page.locator("section.walk-forward")
    expect(section).to_be_visible()
    expect(section.locator('[data-figure="dsr"] strong')).to_have_text("0.97")
    expect(section.locator('[data-figure="dsr"]')).to_contain_text("best of 12 tries (4 in this")
    expect(section.locator('[data-figure="pbo"] strong')).to_have_text("0.21")
    excess = section.locator('[data-figure="excess"]')
    expect(excess.locator("strong")).to_have_text("+4.1% [\u22121.2%, +9.0%]")
    expect(excess).to_contain_text("95% interval")
    windows = section.locator("table.wf-windows tbody tr")
    assert windows.all_inner_texts()[0].split("\t")[:3] == [
        "Fold 1",
        "2010-01-04\u00a0→ 2015-12-31",  # a narrow column wraps after the arrow only
        "2016-01-04\u00a0→ 2016-12-31",
    ]
    assert windows.last.locator("th").inner_text() == "Holdout"
    chosen = section.locator("table.wf-candidates tr.chosen")
    expect(chosen).to_have_attribute("data-candidate", str(CHOSEN))
    expect(chosen).to_contain_text("✓ chosen")
    assert chosen.locator("td.num").all_inner_texts()[:4] == ["1.10", "0.80", "0.60", "1.40"]
    short = section.locator(f'table.wf-candidates tr[data-candidate="{BROKEN}"] td')
    assert short.all_inner_texts()[3:6] == ["–", "–", "failed: fold 3's training failed"]
    costs = section.locator("table.wf-costs tbody tr")
    assert [row.locator("th").inner_text() for row in costs.all()] == ["×0", "×1", "×2"]
    assert costs.nth(2).locator("td").nth(2).inner_text() == "+2.4%"  # 0.058 - 2 × 0.017
    # The figures the section shows are not repeated as "[object Object]" in the table.
    assert "[object Object]" not in page.locator("table.result").inner_text()
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def test_an_old_cycle_shows_its_children_as_before(seeded: Seeded, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{seeded.url}/operations/{seeded.old}")
    expect(page.locator("ul.children li")).to_have_count(2)
    expect(page.locator("table.result")).to_be_visible()
    assert page.locator("table.wf-grid").count() == 0
    assert page.locator("section.walk-forward").count() == 0
    expect(page.locator('figure[data-chart="loss"]')).to_have_count(1)
    expect(page.locator('figure[data-chart="equity"]')).to_be_visible(timeout=10000)
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def test_results_show_the_statistics_and_sort_by_deflated_sharpe_first(
    seeded: Seeded, tab: Tab
) -> None:
    page = tab.page
    page.goto(f"{seeded.url}/results")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator('th[data-key="dsr"]')).to_have_attribute("aria-sort", "descending")
    order = [row.get_attribute("data-id") for row in rows.all()]
    assert order == [seeded.cycle, seeded.weaker, seeded.old]  # no deflated Sharpe: last
    keys = page.locator("thead th").evaluate_all("ths => ths.map(th => th.dataset.key)")
    cells = dict(zip(keys, rows.first.locator("td").all_inner_texts(), strict=False))
    assert (cells["dsr"], cells["trials"], cells["pbo"]) == ("0.97", "12", "0.21")
    assert cells["excess"] == "+4.1% [\u22121.2%, +9.0%]"
    weaker = dict(zip(keys, rows.nth(1).locator("td").all_inner_texts(), strict=False))
    assert (weaker["pbo"], weaker["excess"]) == ("–", "\u22122.0% [\u22128.1%, +3.4%]")
    old = dict(zip(keys, rows.nth(2).locator("td").all_inner_texts(), strict=False))
    assert [old[k] for k in ("dsr", "trials", "pbo", "excess")] == ["–"] * 4
    # A walk-forward cycle links to its own page, which shows the holdout.
    assert rows.first.get_by_role("link", name="backtest").count() == 0
    expect(rows.nth(2).get_by_role("link", name="backtest")).to_have_count(1)

    page.locator('th[data-key="sharpe"] button').click()
    order = [row.get_attribute("data-id") for row in rows.all()]
    assert order == [seeded.old, seeded.weaker, seeded.cycle]  # 2.5, 1.9, 1.1
    page.locator('th[data-key="dsr"] button').click()
    page.locator('th[data-key="dsr"] button').click()  # ascending: blanks still last
    order = [row.get_attribute("data-id") for row in rows.all()]
    assert order == [seeded.weaker, seeded.cycle, seeded.old]
    assert tab.log.errors == [] and tab.log.messages == [], tab.log


def _staged_trees(final: dict[str, Any]) -> list[dict[str, Any]]:
    """The completed tree as it was while running: 6 children, then 10, then all of it."""
    cycle, children = final["data"]["operations"][0], final["data"]["operations"][1:]
    stages = []
    for version, (shown, done, running) in enumerate(((6, 0, 2), (10, 6, 2)), start=1):
        nodes = []
        for i, child in enumerate(children[:shown]):
            status = "completed" if i < done else "running" if i < done + running else "pending"
            pct = {"completed": 100, "running": 40 * version, "pending": 0}[status]
            step = f"Epoch {pct // 5}/20" if status == "running" else None
            prog = {**child["progress"], "percentage": pct, "current_step": step}
            nodes.append({**child, "status": status, "progress": prog, "completed_at": None})
        root_progress = {**cycle["progress"], "percentage": 20, "context": cycle_context()}
        root = {**cycle, "status": "running", "result_summary": None, "progress": root_progress}
        root = {**root, "completed_at": None, "metadata": {"parameters": {"phase": "training"}}}
        tree = {"version": version, "complete": True, "changes": [], "operations": [root, *nodes]}
        stages.append({**final, "data": tree})
    return [*stages, {**final, "data": {**final["data"], "version": 3}}]


def test_the_grid_follows_a_running_cycle_in_place(seeded: Seeded, tab: Tab) -> None:
    """The tree's answers are served in stages (a running walk-forward cycle cannot survive
    the restart that seeding needs): each answer is the real one with earlier statuses."""
    final = httpx.get(f"{seeded.url}/api/v1/operations/{seeded.cycle}/tree").json()
    stages = _staged_trees(final)
    held: list[Route] = []
    page = tab.page

    def hold(route: Route) -> None:
        held.append(route)

    def answer() -> None:
        deadline = time.monotonic() + 10
        while not held and time.monotonic() < deadline:
            page.wait_for_timeout(20)
        held.pop(0).fulfill(
            status=200, content_type="application/json", body=json.dumps(stages.pop(0))
        )

    page.route(f"**/api/v1/operations/{seeded.cycle}/tree*", hold)
    page.goto(f"{seeded.url}/operations/{seeded.cycle}")
    answer()
    first = final["data"]["operations"][1]["operation_id"]
    bar = page.locator(f'a.wf-bar[data-id="{first}"]')
    expect(bar).to_have_class("wf-bar st-running")
    assert bar.locator(".wf-fill").evaluate("f => f.style.width") == "40%"
    expect(page.locator("table.wf-grid a.wf-bar")).to_have_count(6)
    expect(page.locator("table.wf-grid tbody tr")).to_have_count(CANDIDATES)  # from the context
    # Every training and backtest not yet created has an empty slot in its cell.
    empty = page.locator("table.wf-grid .wf-slot:not(:has(a))")
    expect(empty).to_have_count(FOLDS * CANDIDATES * 2 + CANDIDATES - 6)
    assert page.locator("section.walk-forward").count() == 0
    bar.focus()
    page.evaluate("window.sameDocument = 'still here'")

    answer()
    expect(bar).to_have_class("wf-bar st-completed")
    expect(page.locator("table.wf-grid a.wf-bar")).to_have_count(10)
    expect(page.locator("table.wf-grid a.wf-bar.st-running")).to_have_count(2)
    assert page.evaluate("document.activeElement.dataset.id") == first  # focus kept
    page.locator("table.wf-grid").screenshot(path=str(artifacts_dir() / "walk-forward-grid.png"))

    answer()
    expect(page.locator("table.wf-grid a.wf-bar")).to_have_count(len(seeded.children))
    expect(page.locator("section.walk-forward")).to_be_visible()
    expect(page.locator(".op-header .status")).to_have_text("completed")
    assert page.evaluate("window.sameDocument") == "still here"
    assert page.evaluate("document.activeElement.dataset.id") == first
    assert tab.log.errors == [], tab.log.errors


def test_a_real_cycle_fills_its_grid_live_and_ends_with_its_statistics(
    tmp_path_factory: pytest.TempPathFactory, tab: Tab
) -> None:
    """The research worker itself, 2 candidates × 2 folds, on a backend of its own."""
    backend = LiveBackend(tmp_path_factory.mktemp("walk-forward-live")).start()
    try:
        body = {"seed": 7, "folds": 2, "candidates": 2, "epochs": 30}
        started = httpx.post(f"{backend.url}/api/v1/agent/trigger", json=body, timeout=10)
        assert started.status_code == 202, started.text
        cycle = started.json()["data"]["operation_id"]
        page = tab.page
        page.goto(f"{backend.url}/operations/{cycle}")
        page.evaluate("window.sameDocument = 'still here'")
        bars = page.locator("table.wf-grid a.wf-bar")
        expect(bars.first).to_be_attached(timeout=20000)
        unfinished = page.locator("table.wf-grid a.wf-bar:not(.st-completed)").first
        expect(unfinished).to_be_attached()  # some child is still to finish...
        watched = unfinished.get_attribute("data-id")
        done = page.locator(f'a.wf-bar.st-completed[data-id="{watched}"]')
        expect(done).to_be_attached(timeout=60000)  # ...and its bar turns green in place
        expect(page.locator("section.walk-forward")).to_be_visible(timeout=120000)
        assert page.evaluate("window.sameDocument") == "still here"

        heads = page.locator("table.wf-grid thead th").all_inner_texts()
        assert heads == ["Candidate", "Fold 1", "Fold 2", "Final", "Holdout"]
        tree = httpx.get(f"{backend.url}/api/v1/operations/{cycle}/tree", timeout=10).json()
        children = tree["data"]["operations"][1:]
        expect(bars).to_have_count(len(children))
        for child in children:  # each bar in the status its child ended with
            bar = page.locator(f'table.wf-grid a.wf-bar[data-id="{child["operation_id"]}"]')
            expect(bar).to_have_class(f"wf-bar st-{child['status']}")
        expect(page.locator("table.wf-grid td.wf-holdout a.wf-bar")).to_have_count(3)
        expect(page.locator('[data-figure="dsr"] strong')).to_have_text(re.compile(r"^[01]\.\d\d$"))
        expect(page.locator("table.wf-candidates tr.chosen")).to_have_count(1)
        assert tab.log.errors == [] and tab.log.messages == [], tab.log
    finally:
        backend.kill()


def test_screenshots_of_the_cycle_and_results_light_dark_wide_and_phone(
    seeded: Seeded, tab: Tab
) -> None:
    page, folder = tab.page, artifacts_dir()
    equity = 'figure[data-chart="equity"] canvas'
    pages = [("cycle", f"/operations/{seeded.cycle}", equity), ("results", "/results", "tbody tr")]
    for name, path, ready in pages:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{seeded.url}{path}")
        page.wait_for_selector(ready)
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            for label, width in (("wide", 1280), ("phone", 390)):
                page.set_viewport_size({"width": width, "height": 900})
                page.wait_for_timeout(150)  # charts redraw for the new width on the next frame
                shot = folder / f"walk-forward-{name}-{scheme}-{label}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 5000
                if width == 390:  # only the tables' own scroll areas may scroll sideways
                    assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    assert tab.log.errors == [], tab.log.errors
