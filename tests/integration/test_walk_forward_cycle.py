"""A walk-forward research cycle on a real server (in this process, so a spy can watch the
data reads): candidates × folds as children running at once, the choice made on the folds
only, the holdout read once for the final score, and the statistics in the result."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

import ktrdr.agents.workers.walk_forward as walk_forward
from ktrdr.data.bars import Bars
from ktrdr.data.market import MarketData
from ktrdr.research.evaluation import CandidateScore
from tests.support.served import Served, served_in_process
from tests.support.synthetic import log_returns_random_walk, series_csv
from tests.support.waiting import finished_over_http

TERMINAL = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class Read:
    what: str  # "load", "times" or "chosen" (the moment the candidate is chosen)
    start: date | None = None
    end: date | None = None


@pytest.fixture
def spied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Served, list[Read]]]:
    reads: list[Read] = []
    original_load = MarketData.load
    original_times = MarketData.bar_times
    original_choose = walk_forward.choose  # type: ignore[attr-defined]

    def load(
        self: MarketData, symbol: str, timeframe: str = "1d", start: Any = None, end: Any = None
    ) -> Bars:
        reads.append(Read("load", start, end))
        return original_load(self, symbol, timeframe, start, end)

    def bar_times(self: MarketData, symbol: str, timeframe: str = "1d") -> Any:
        reads.append(Read("times"))
        return original_times(self, symbol, timeframe)

    def choose(scores: list[CandidateScore]) -> CandidateScore:
        reads.append(Read("chosen"))
        return original_choose(scores)

    monkeypatch.setattr(MarketData, "load", load)
    monkeypatch.setattr(MarketData, "bar_times", bar_times)
    monkeypatch.setattr(walk_forward, "choose", choose)
    with served_in_process(tmp_path / "data", workers=2) as server:
        yield server, reads


def _children(http: httpx.Client, op_id: str) -> list[dict[str, Any]]:
    tree = http.get(f"/operations/{op_id}/tree").json()["data"]
    return [o for o in tree["operations"] if o["operation_id"] != op_id]


def test_folds_and_candidates_run_as_parallel_children_and_the_holdout_is_read_last(
    spied: tuple[Served, list[Read]],
) -> None:
    server, reads = spied
    body = {"seed": 21, "folds": 3, "candidates": 2, "epochs": 12, "patience": 4}
    with httpx.Client(base_url=server.api, timeout=30) as http:
        started = http.post("/agent/trigger", json=body)
        assert started.status_code == 202, started.text
        cycle_id = started.json()["data"]["operation_id"]
        reads.clear()  # the trigger's own check of the series is not the cycle's reading
        cycle = finished_over_http(http, cycle_id, timeout=180)
        assert cycle["status"] == "completed", cycle.get("error_message")
        children = _children(http, cycle_id)

    params = [c["metadata"]["parameters"] for c in children]
    roles = sorted((p["role"], c["operation_type"]) for p, c in zip(params, children, strict=True))
    assert roles.count(("fold", "training")) == 6 and roles.count(("fold", "backtesting")) == 6
    assert roles.count(("final", "training")) == 2 and roles.count(("holdout", "backtesting")) == 3
    assert {(p["candidate"], p["fold"]) for p in params if p["role"] == "fold"} == {
        (c, f) for c in range(2) for f in range(3)
    }
    assert all(c["status"] == "completed" for c in children)
    context = cycle["progress"]["context"]
    assert set(context["child_op_ids"]) == {c["operation_id"] for c in children}
    assert (context["folds"], context["candidates"]) == (3, 2)

    # Two trainings overlapped in time: the folds ran in parallel (KTRDR_WORKERS=2).
    spans = sorted(
        (c["started_at"], c["completed_at"]) for c in children if c["operation_type"] == "training"
    )
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))

    # The holdout: no price at or after its first day is read before the choice is made.
    result = cycle["result_summary"]
    holdout_start = date.fromisoformat(result["walk_forward"]["holdout"]["test_start"])
    chosen_at = next(i for i, r in enumerate(reads) if r.what == "chosen")
    before = [r for r in reads[:chosen_at] if r.what == "load"]
    assert before, "the folds read their bars"
    for read in before:
        assert read.end is not None and read.end < holdout_start, read
    after = [r for r in reads[chosen_at:] if r.what == "load"]
    assert any(r.end is None or r.end >= holdout_start for r in after), (
        "the final scoring reads the holdout"
    )

    # The statistics that count every try, as typed fields.
    stats = result["statistics"]
    assert 0.0 <= stats["deflated_sharpe"]["probability"] <= 1.0
    assert stats["deflated_sharpe"]["trials"] == 2
    assert stats["overfitting"] is None  # fewer than 4 candidates
    interval = stats["holdout_excess"]
    assert interval["low"] <= interval["estimate"] <= interval["high"]
    assert [c["multiplier"] for c in stats["costs"]] == [0.0, 1.0, 2.0]
    returns = [c["total_return"] for c in stats["costs"]]
    assert returns[0] >= returns[1] >= returns[2]  # costs only ever cost
    assert sum(c["chosen"] for c in result["candidates"]) == 1
    assert any("deflated Sharpe" in reason for reason in result["reasons"])
    headline = http_headline(server, cycle_id)
    assert headline["trials"] == 2 and headline["folds"] == 3 and headline["candidates"] == 2


def http_headline(server: Served, cycle_id: str) -> dict[str, Any]:
    rows = httpx.get(
        f"{server.api}/operations", params={"operation_type": "agent_research"}
    ).json()["data"]
    return next(r["headline"] for r in rows if r["operation_id"] == cycle_id)


def test_trials_add_up_across_cycles_on_the_same_series_and_range(tmp_path: Path) -> None:
    body = {"folds": 2, "candidates": 2, "epochs": 6, "patience": 3}
    with (
        served_in_process(tmp_path / "data", workers=2) as server,
        httpx.Client(base_url=server.api, timeout=30) as http,
    ):
        trials = []
        for seed in (5, 6):
            cycle_id = http.post("/agent/trigger", json={**body, "seed": seed}).json()["data"][
                "operation_id"
            ]
            done = finished_over_http(http, cycle_id, timeout=180)
            assert done["status"] == "completed", done.get("error_message")
            trials.append(done["result_summary"]["statistics"]["deflated_sharpe"]["trials"])
        # The second cycle is deflated by the first one's candidates too.
        assert trials == [2, 4]
        other = http.post(
            "/agent/trigger", json={**body, "seed": 7, "holdout_fraction": 0.2}
        ).json()["data"]["operation_id"]
        done = finished_over_http(http, other, timeout=180)
        # Another range (up to another holdout) is another set of trials.
        assert done["result_summary"]["statistics"]["deflated_sharpe"]["trials"] == 2


def test_an_impossible_plan_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with (
        served_in_process(tmp_path / "data") as server,
        httpx.Client(base_url=server.api, timeout=30) as http,
    ):
        short = series_csv(log_returns_random_walk(900, seed=1), seed=1)
        imported = http.post(
            "/data/import", json={"symbol": "SHORT", "timeframe": "1d", "csv_text": short}
        )
        assert imported.status_code == 201, imported.text
        refused = http.post("/agent/trigger", json={"symbol": "SHORT", "folds": 10})
        assert refused.status_code == 422, refused.text
        assert "10 anchored folds need at least" in refused.json()["error"]["message"]
        candidates_only = http.post("/agent/trigger", json={"folds": 0, "candidates": 4})
        assert candidates_only.status_code == 422
        assert candidates_only.json()["error"]["details"]["field"] == "candidates"
        assert http.get("/operations").json()["total"] == 0
