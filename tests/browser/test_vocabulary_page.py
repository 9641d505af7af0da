"""The page takes its words from the backend, in a real Chromium: the labels, statuses and
phases it shows are the ones the vocabulary read serves (here altered on the way, which a
copy kept in the script would not follow), and a page that cannot read them says so
instead of staying at "Loading…"."""

from __future__ import annotations

from typing import Any

import pytest

# Like test_walk_forward_page.py: without Playwright this module skips itself
# (test_browser_available.py says what is missing, and fails in CI).
pytest.importorskip("playwright.sync_api")

from playwright.sync_api import Route, expect  # noqa: E402

from ktrdr.agents.phases.table import ACTIVE_PHASES, Phase  # noqa: E402
from ktrdr.records.kinds import (  # noqa: E402
    KIND_LABEL,
    OperationStatus,
    OperationType,
    kind_noun,
)
from tests.browser.conftest import Tab, WebBackend  # noqa: E402

VOCABULARY = "**/api/v1/meta/vocabulary"
MARK = " (served)"
DROPPED = Phase.ASSESSING  # served as a phase the cycle does not work in


def _altered(route: Route) -> None:
    """The real answer with every kind's words marked and one phase off the timeline."""
    response = route.fetch()
    body: dict[str, Any] = response.json()
    for kind in body["data"]["kinds"]:
        kind["label"] += MARK
        kind["noun"] += MARK
    for phase in body["data"]["phases"]:
        if phase["value"] == DROPPED.value:
            phase["active"] = False
    route.fulfill(response=response, json=body)


def test_the_page_shows_the_words_the_backend_serves(web: WebBackend, tab: Tab) -> None:
    page = tab.page
    page.route(VOCABULARY, _altered)
    training, cycle = web.seeded.markup_training, web.seeded.markup_cycle

    page.goto(f"{web.url}/")
    row = page.locator(f'tr[data-id="{training}"]')
    expect(row.locator(".kind")).to_have_text(kind_noun(OperationType.TRAINING) + MARK)
    kinds = page.get_by_label("Kind").locator("option").all_inner_texts()
    assert kinds == ["any kind", *(kind_noun(k) + MARK for k in OperationType)], kinds
    statuses = page.get_by_label("Status").locator("option")
    assert statuses.evaluate_all("(os) => os.map((o) => o.value)") == [
        "",
        *(s.value for s in OperationStatus),
    ]

    page.goto(f"{web.url}/operations/{cycle}")
    expect(page.locator("h1 .kind")).to_have_text(KIND_LABEL[OperationType.AGENT_RESEARCH] + MARK)
    shown = page.locator("ol.phases li.phase")
    expect(shown).to_have_count(len(ACTIVE_PHASES) - 1)
    names = shown.evaluate_all("(items) => items.map((li) => li.dataset.phase)")
    assert names == [p.value for p in ACTIVE_PHASES if p is not DROPPED], names
    assert tab.log.errors == [], tab.log.errors


def test_a_page_that_cannot_read_the_vocabulary_says_so(web: WebBackend, tab: Tab) -> None:
    page = tab.page
    page.route(VOCABULARY, lambda route: route.abort())
    page.goto(f"{web.url}/")
    expect(page.get_by_role("alert")).to_contain_text("Cannot read the backend's vocabulary")
    expect(page.locator("main .loading")).to_have_count(0)
