"""Honest in both directions: whole research cycles (real trainings, real backtests, the
real walk-forward worker) on synthetic series imported as CSV, as a user imports their own.

- On random walks (nothing to find) the best of 16 candidates is "not significant".
- On a series with trending regimes (a planted edge any trend or momentum feature sees)
  the cycle finds it: the holdout beats buy-and-hold and the deflated Sharpe is at least
  0.95 for most seeds.

The series are this test's own (``tests.support.synthetic``); the same properties hold for
other seeds, and the statistics-level version runs many more seeds
(tests/unit/test_honest_statistics.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.served import served_in_process
from tests.support.synthetic import log_returns_random_walk, log_returns_regimes, series_csv

TERMINAL = ("completed", "failed", "cancelled")


def _cycle(http: httpx.Client, symbol: str, csv_text: str, body: dict[str, Any]) -> dict[str, Any]:
    imported = http.post(
        "/data/import", json={"symbol": symbol, "timeframe": "1d", "csv_text": csv_text}
    )
    assert imported.status_code == 201, imported.text
    started = http.post("/agent/trigger", json={"symbol": symbol, **body})
    assert started.status_code == 202, started.text
    cycle_id = started.json()["data"]["operation_id"]
    deadline = time.monotonic() + 240
    while True:
        op: dict[str, Any] = http.get(f"/operations/{cycle_id}").json()["data"]
        if op["status"] in TERMINAL:
            assert op["status"] == "completed", op.get("error_message")
            return dict(op["result_summary"])
        assert time.monotonic() < deadline, "the cycle did not finish"
        time.sleep(0.2)


def test_the_best_of_16_candidates_on_random_walks_is_not_significant(tmp_path: Path) -> None:
    body = {"folds": 2, "candidates": 16, "epochs": 10, "patience": 5}
    seeds = range(1, 7)
    with (
        served_in_process(tmp_path / "data", workers=2) as server,
        httpx.Client(base_url=server.api, timeout=60) as http,
    ):
        results = [
            _cycle(
                http,
                f"RW{seed}",
                series_csv(log_returns_random_walk(1500, seed), seed),
                {**body, "seed": seed},
            )
            for seed in seeds
        ]
    for result in results:
        stats = result["statistics"]
        assert stats["deflated_sharpe"]["trials"] == 16  # each series is its own range
        assert result["verdict"] != "promising"
    significant = [r for r in results if r["statistics"]["significant"]]
    assert len(significant) <= 0.05 * len(results), [
        r["statistics"]["deflated_sharpe"] for r in significant
    ]
    assert all(
        any(
            reason.startswith("not significant") or "includes zero" in reason
            for reason in r["reasons"]
        )
        for r in results
    )


def test_a_planted_trend_is_found_by_the_cycle(tmp_path: Path) -> None:
    body = {"folds": 3, "candidates": 4, "epochs": 30, "patience": 5}
    seeds = range(1, 6)
    found = []
    with (
        served_in_process(tmp_path / "data", workers=2) as server,
        httpx.Client(base_url=server.api, timeout=60) as http,
    ):
        for seed in seeds:
            result = _cycle(
                http,
                f"TREND{seed}",
                series_csv(log_returns_regimes(2500, seed), seed),
                {**body, "seed": seed},
            )
            stats = result["statistics"]
            if (
                stats["deflated_sharpe"]["probability"] >= 0.95
                and stats["holdout_excess"]["estimate"] > 0
            ):
                found.append(seed)
    assert len(found) > len(seeds) / 2, found
