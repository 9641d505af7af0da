"""Requests that used to be answered 500 "internal_error", against the real app under a real
uvicorn server: each is now a 4xx with the API's error envelope naming the field, and
random JSON in a strategy's top-level sections never gets a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktrdr.strategies.models import StrategyConfig
from tests.support.served import Served, served_in_process
from tests.support.waiting import wait_until

BASE_STRATEGY = "rsi_mean_reversion"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One backend (thread executor) with one trained model, shared by the module's tests."""
    with served_in_process(tmp_path_factory.mktemp("bad-input") / "data") as backend:
        with httpx.Client(base_url=backend.api, timeout=60) as http:
            started = http.post("/training/start", json={"strategy": BASE_STRATEGY, "epochs": 1})
            assert started.status_code == 202, started.text
            operation_id = started.json()["data"]["operation_id"]
            assert wait_until(
                lambda: backend.service.get(operation_id).is_terminal, timeout=120, interval=0.1
            )
            assert backend.service.get(operation_id).status.value == "completed"
        yield backend


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.api, timeout=60) as client:
        yield client


def refused(response: httpx.Response) -> dict[str, Any]:
    """The error envelope of a 4xx (400 or 422), checked for shape."""
    assert response.status_code in (400, 422), (response.status_code, response.text[:500])
    body = response.json()
    assert body["success"] is False and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] != "internal_error"
    return dict(body["error"])


def test_a_backtest_ending_at_the_last_representable_day_is_refused(http: httpx.Client) -> None:
    """Item 12: backtests/start with end_date 9999-12-31 is a 422, not an OverflowError 500."""
    for body in (
        {"model": BASE_STRATEGY, "end_date": "9999-12-31"},
        {"model": BASE_STRATEGY, "start_date": "9999-12-30", "end_date": "9999-12-31"},
        {"model": BASE_STRATEGY, "start_date": "0001-01-01"},
    ):
        error = refused(http.post("/backtests/start", json=body))
        assert "date" in json.dumps(error), error
    ok = http.post("/backtests/start", json={"model": BASE_STRATEGY, "end_date": "2018-12-31"})
    assert ok.status_code == 202, ok.text  # an ordinary end date still starts


def test_training_dates_past_any_series_are_refused(http: httpx.Client) -> None:
    """Item 12: a training's own or its strategy's dates at the calendar's edge are 4xx."""
    config = _config(data={"symbol": "SP500", "train_end": "9999-12-31"})
    for body in (
        {"strategy": BASE_STRATEGY, "train_end": "9999-12-31"},
        {"strategy_config": config},
    ):
        error = refused(http.post("/training/start", json=body))
        assert "train_end" in json.dumps(error), error


@pytest.mark.parametrize("strategy_config", [{"data": 5}, {"data": "abc"}, {"model": 5}])
@pytest.mark.parametrize("path", ["/training/start", "/agent/trigger"])
def test_a_section_that_is_not_a_mapping_is_a_4xx(
    http: httpx.Client, path: str, strategy_config: dict[str, Any]
) -> None:
    """Item 12: strategy_config {"data": 5}, {"data": "abc"}, {"model": 5} are 422s."""
    for extra in ({}, {"epochs": 2}, {"symbol": "SP500"}):
        for config in (strategy_config, _config(**strategy_config)):
            error = refused(http.post(path, json={"strategy_config": config, **extra}))
            assert error["code"] == "invalid_strategy"
            section = next(iter(strategy_config))
            assert error["details"]["field"] == f"strategy.{section}", error
            assert "must be a mapping" in error["message"]


def _config(**sections: Any) -> dict[str, Any]:
    """A complete strategy with ``sections`` replaced."""
    return {
        "name": "fuzzed",
        "indicators": [{"name": "rsi", "type": "rsi", "params": {"period": 14}}],
        **sections,
    }


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["9999-12-31", "0001-01-01", "2015-01-01", "SP500", "1d", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)
SECTIONS = sorted(StrategyConfig.model_fields)


@st.composite
def strategy_configs(draw: st.DrawFn) -> dict[str, Any]:
    base = _config() if draw(st.booleans()) else {}
    changed = draw(st.dictionaries(st.sampled_from(SECTIONS), json_values, min_size=1))
    return {**base, **changed}


def test_random_json_in_strategy_sections_never_gets_a_5xx(served: Served) -> None:
    """Item 12: Hypothesis posts random JSON in strategy_config's top-level sections."""
    with httpx.Client(base_url=served.api, timeout=60) as http:

        @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
        @given(
            config=strategy_configs(),
            extra=st.fixed_dictionaries(
                {}, optional={"epochs": st.just(1), "symbol": st.just("SP500")}
            ),
            path=st.sampled_from(["/training/start", "/agent/trigger"]),
        )
        def post(config: dict[str, Any], extra: dict[str, Any], path: str) -> None:
            response = http.post(path, json={"strategy_config": config, **extra})
            assert response.status_code < 500, (path, config, response.text[:500])
            if response.status_code == 202:  # a valid strategy by chance: do not let it run
                http.delete(f"/operations/{response.json()['data']['operation_id']}")
            else:
                assert response.json()["success"] is False

        post()
