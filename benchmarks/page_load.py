"""The web page on loopback: how fast it loads, what it weighs, and how soon it shows a
phase change made in the backend.

A real backend and Debian's headless Chromium driven by Playwright.

- **Page load**: first byte to load event, from the Navigation Timing API
  (``loadEventEnd - responseStart`` of the navigation entry), for the operations page and
  a completed cycle's page, each loaded ``--loads`` times in a fresh browser context (no
  cache); median and p95. Also first byte to the first data drawn (the operations table's
  first row, the cycle page's equity curve), stamped in the page by a MutationObserver.
- **Page weight without data**: bytes transferred for the HTML, script and style
  (``transferSize`` of the navigation and the non-API resource entries: headers included,
  no compression), apart from the JSON the page then reads.
- **Phase change to page**: research cycles run while a cycle's page is open. The service
  stamps each phase change as it records it (the ``at`` of the tree's change journal, read
  once the cycle has ended); in the page a MutationObserver stamps
  ``performance.timeOrigin + performance.now()`` (epoch ms, the same machine clock) the first
  time the timeline shows each phase as current (or the status as completed). The delay is
  the page's stamp minus the service's. The first phase shown is left out (the page is
  still loading then); a phase that came and went between two answers, never drawn as
  current, counts as passed unseen. Median and p95 over all cycles. The machine's load
  shows directly in these figures: the browser, the backend and the training share its
  cores.

    python -m benchmarks.page_load [--loads 20] [--cycles 5] [--epochs 300]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import median, percentile, save, table
from tests.support.live_backend import LiveBackend

# Stamps, in the page, the first time each phase is drawn as current.
WATCH_PHASES = """
() => {
  window.phaseSeen = {};
  const stamp = () => {
    const current = document.querySelector("ol.phases li.phase-current");
    const status = document.querySelector(".op-header .status");
    const phase = current ? current.dataset.phase
      : status && status.textContent === "completed" ? "completed" : null;
    if (phase && !(phase in window.phaseSeen)) {
      window.phaseSeen[phase] = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(stamp).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
  stamp();
}
"""

FIRST_DATA = """
(selector) => new Promise((resolve) => {
  const nav = performance.getEntriesByType("navigation")[0];
  const done = () => resolve(performance.now() - nav.responseStart);
  if (document.querySelector(selector)) return done();
  new MutationObserver((_, observer) => {
    if (document.querySelector(selector)) { observer.disconnect(); done(); }
  }).observe(document.body, { subtree: true, childList: true });
})
"""

TIMING = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const own = performance.getEntriesByType("resource").filter(
    (r) => !new URL(r.name).pathname.startsWith("/api/"));
  return {
    load_ms: nav.loadEventEnd - nav.responseStart,
    html_bytes: nav.transferSize,
    asset_bytes: own.reduce((sum, r) => sum + r.transferSize, 0),
    assets: own.length,
  };
}
"""


def wait_completed(http: httpx.Client, op_id: str) -> dict[str, Any]:
    while True:
        op: dict[str, Any] = http.get(f"/operations/{op_id}").json()["data"]
        if op["status"] in ("completed", "failed", "cancelled"):
            return op
        time.sleep(0.1)


def measure_loads(browser: Any, url: str, ready: str, loads: int) -> dict[str, Any]:
    load_ms: list[float] = []
    data_ms: list[float] = []
    weight: dict[str, Any] = {}
    for _ in range(loads):
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(url, wait_until="load")
            data_ms.append(float(page.evaluate(FIRST_DATA, ready)))
            weight = page.evaluate(TIMING)
            load_ms.append(float(weight["load_ms"]))
        finally:
            context.close()
    return {
        "load_median_ms": median(load_ms),
        "load_p95_ms": percentile(load_ms, 95),
        "data_median_ms": median(data_ms),
        "data_p95_ms": percentile(data_ms, 95),
        "weight_bytes": int(weight["html_bytes"] + weight["asset_bytes"]),
        "files": 1 + int(weight["assets"]),
    }


def phase_delays(
    browser: Any, backend: LiveBackend, http: httpx.Client, seed: int, epochs: int
) -> tuple[list[float], int]:
    context = browser.new_context()
    try:
        page = context.new_page()
        reply = http.post("/agent/trigger", json={"folds": 0, "seed": seed, "epochs": epochs})
        op_id = reply.json()["data"]["operation_id"]
        page.goto(f"{backend.url}/operations/{op_id}")
        page.evaluate(WATCH_PHASES)
        wait_completed(http, op_id)
        page.wait_for_selector(".op-header .status:text-is('completed')")
        seen: dict[str, float] = page.evaluate("window.phaseSeen")
    finally:
        context.close()
    tree = http.get(f"/operations/{op_id}/tree", params={"since": 0}).json()["data"]
    assert tree["complete"], "the change journal no longer holds this cycle's start"
    logged = [
        (str(c["value"]), datetime.fromisoformat(c["at"].replace("Z", "+00:00")).timestamp())
        for c in tree["changes"]
        if c["kind"] == "phase" and c["operation_id"] == op_id
    ]
    first_shown = min(seen.values()) if seen else float("inf")
    delays: list[float] = []
    missed = 0
    for phase, at in logged:
        shown = seen.get(phase)
        if shown is not None and shown <= first_shown:
            continue  # drawn by the first answer: that is the page loading, not delivery
        if shown is not None:
            delays.append(shown / 1000 - at)
        elif at * 1000 > first_shown:
            missed += 1
    return delays, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        backend = LiveBackend(Path(tmp)).start()
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=10) as http:
                first = http.post("/agent/trigger", json={"folds": 0, "seed": 1, "epochs": 60})
                cycle = wait_completed(http, first.json()["data"]["operation_id"])
                loads = {
                    "operations": measure_loads(browser, f"{backend.url}/", "tbody tr", args.loads),
                    "cycle": measure_loads(
                        browser,
                        f"{backend.url}/operations/{cycle['operation_id']}",
                        'figure[data-chart="equity"] .uplot canvas',
                        args.loads,
                    ),
                }
                delays: list[float] = []
                missed = 0
                for seed in range(args.cycles):
                    d, m = phase_delays(browser, backend, http, 100 + seed, args.epochs)
                    delays += d
                    missed += m
        finally:
            browser.close()
            backend.stop()
    rows = []
    for name, figures in loads.items():
        rows.append(
            (
                f"{name} page",
                f"load {figures['load_median_ms']:.0f} ms (p95 {figures['load_p95_ms']:.0f}), "
                f"data drawn {figures['data_median_ms']:.0f} ms "
                f"(p95 {figures['data_p95_ms']:.0f}), "
                f"{figures['weight_bytes']:,} bytes in {figures['files']} files",
            )
        )
    phase = {
        "seen": len(delays),
        "missed": missed,
        "median_s": median(delays) if delays else float("nan"),
        "p95_s": percentile(delays, 95),
    }
    rows.append(
        (
            "phase -> page",
            f"median {phase['median_s'] * 1000:.0f} ms, p95 {phase['p95_s'] * 1000:.0f} ms "
            f"({phase['seen']} changes seen, {phase['missed']} passed unseen)",
        )
    )
    print(f"loopback, {args.loads} loads per page, {args.cycles} cycles:")
    table(rows)
    save("page_load", {"loads": loads, "phase_to_page": phase})


if __name__ == "__main__":
    main()
