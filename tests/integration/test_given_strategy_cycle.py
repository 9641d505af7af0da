"""A research cycle started from the user's own strategy, on a real server in this process:
its grid's variants are the candidates, its walk_forward settings the cycle's, and what
cannot work is a 422 before anything is created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.served import Served, served_in_process
from tests.support.waiting import finished_over_http

TERMINAL = ("completed", "failed", "cancelled")


def small_strategy(**extra: Any) -> dict[str, Any]:
    return {
        "name": "mine",
        "indicators": [{"name": "rsi", "type": "rsi", "params": {"period": 14}}],
        "fuzzy": [
            {
                "indicator": "rsi",
                "sets": [
                    {"name": "low", "shape": "triangular", "points": [0, 20, 40]},
                    {"name": "high", "shape": "triangular", "points": [60, 80, 100]},
                ],
            }
        ],
        "model": {"hidden_layers": [8], "epochs": 8},
        **extra,
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    with served_in_process(tmp_path / "data", workers=2) as served:
        yield served


def _cycles(server: Served) -> int:
    return server.service.list_operations()[1]


def test_a_cycle_compares_the_strategys_grid_variants_on_its_folds(server: Served) -> None:
    strategy = small_strategy(
        walk_forward={"folds": 2, "mode": "rolling"},
        grid={"indicators.rsi.params.period": [7, 21]},
    )
    with httpx.Client(base_url=server.api, timeout=30) as http:
        started = http.post("/agent/trigger", json={"seed": 3, "strategy_config": strategy})
        assert started.status_code == 202, started.text
        cycle = finished_over_http(http, started.json()["data"]["operation_id"], timeout=180)
        assert cycle["status"] == "completed", cycle.get("error_message")
        tree = http.get(f"/operations/{cycle['operation_id']}/tree").json()["data"]

    params = cycle["metadata"]["parameters"]
    assert (params["designer"], params["strategy"]) == ("given", "mine")
    assert (params["folds"], params["candidates"], params["walk_forward_mode"]) == (2, 2, "rolling")
    result = cycle["result_summary"]
    assert [c["strategy_name"] for c in result["candidates"]] == ["mine-g1", "mine-g2"]
    assert len(result["walk_forward"]["folds"]) == 2 and result["walk_forward"]["mode"] == "rolling"
    assert result["statistics"]["deflated_sharpe"]["trials"] == 2
    # Each candidate trained its own variant: the fold trainings carry the variant's name
    # and the variant's RSI period reached the training's strategy.
    children = [o for o in tree["operations"] if o["operation_id"] != cycle["operation_id"]]
    trained = {
        c["metadata"]["parameters"]["strategy_name"]
        for c in children
        if c["operation_type"] == "training"
    }
    assert trained == {"mine-g1-f1", "mine-g1-f2", "mine-g2-f1", "mine-g2-f2", "mine-g1", "mine-g2"}
    chosen = next(c for c in result["candidates"] if c["chosen"])
    period = {"mine-g1": 7, "mine-g2": 21}[chosen["strategy_name"]]
    assert result["strategy"]["indicators"][0]["params"]["period"] == period


def test_a_strategy_without_grid_and_no_folds_runs_the_classic_cycle(server: Served) -> None:
    with httpx.Client(base_url=server.api, timeout=30) as http:
        started = http.post(
            "/agent/trigger", json={"folds": 0, "strategy_config": small_strategy()}
        )
        assert started.status_code == 202, started.text
        cycle = finished_over_http(http, started.json()["data"]["operation_id"], timeout=180)
    assert cycle["status"] == "completed", cycle.get("error_message")
    assert cycle["metadata"]["parameters"]["folds"] == 0
    assert cycle["result_summary"]["strategy_name"] == "mine"
    assert cycle["result_summary"].get("walk_forward") is None


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            {"strategy_config": small_strategy(grid={"indicators.macd.params.period": [7, 9]})},
            "indicators.macd.params.period",
        ),
        (
            {
                "strategy_config": small_strategy(
                    grid={
                        "indicators.rsi.params.period": list(range(2, 11)),
                        "labels.threshold": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08],
                    }
                )
            },
            "72 variants",
        ),
        (
            {
                "candidates": 3,
                "strategy_config": small_strategy(grid={"indicators.rsi.params.period": [7, 9]}),
            },
            "makes 2 candidate(s)",
        ),
        (
            {
                "folds": 0,
                "strategy_config": small_strategy(grid={"indicators.rsi.params.period": [7, 9]}),
            },
            "need walk-forward folds",
        ),
        ({"strategy": "no_such_strategy"}, "no such strategy"),
        ({"strategy": "rsi_mean_reversion", "model": "haiku"}, "not both"),
    ],
)
def test_what_cannot_work_is_refused_before_anything_starts(
    server: Served, body: dict[str, Any], needle: str
) -> None:
    with httpx.Client(base_url=server.api, timeout=30) as http:
        refused = http.post("/agent/trigger", json=body)
    assert refused.status_code in (404, 422), refused.text
    assert needle in refused.json()["error"]["message"], refused.text
    assert _cycles(server) == 0
