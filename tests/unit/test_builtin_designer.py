"""The built-in designer: reproducible per seed, varied across seeds, always usable."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime

import numpy as np
import pytest

from ktrdr.agents.design.base import DesignRequest
from ktrdr.agents.design.builtin import EPOCHS_RANGE, FAMILIES, BuiltinDesigner
from ktrdr.data.bars import Bars
from ktrdr.data.market import MarketData
from ktrdr.indicators import compute_features
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.strategies.models import StrategyConfig

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def design(
    seed: int, *, symbol: str | None = None, timeframe: str | None = None, epochs: int | None = None
) -> StrategyConfig:
    request = DesignRequest(seed=seed, symbol=symbol, timeframe=timeframe, now=NOW, epochs=epochs)
    return BuiltinDesigner().design(request, CancellationToken())


def family_of(strategy: StrategyConfig) -> str:
    return strategy.name.rsplit("_", 2)[0]


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Bars]:
    market = MarketData(tmp_path_factory.mktemp("market"))
    return {symbol: market.load(symbol, "1d") for symbol in ("SP500", "NASDAQ")}


def test_the_same_seed_gives_the_same_design() -> None:
    for seed in (0, 7, 123_456):
        assert design(seed) == design(seed)
        assert design(seed).model_dump_json() == design(seed).model_dump_json()


def test_designing_leaves_the_global_random_state_alone() -> None:
    random.seed(99)
    before = random.getstate()
    design(5)
    assert random.getstate() == before


def test_seeds_give_varied_designs() -> None:
    strategies = [design(seed) for seed in range(20)]
    assert len({family_of(s) for s in strategies}) >= 3
    bodies = {s.model_dump_json(exclude={"name": True, "model": {"seed"}}) for s in strategies}
    assert len(bodies) == 20
    assert len({s.model.epochs for s in strategies}) > 5
    assert len({tuple(s.model.hidden_layers) for s in strategies}) > 2


def test_over_many_seeds_every_family_and_both_modes_appear() -> None:
    strategies = [design(seed) for seed in range(100)]
    assert {family_of(s) for s in strategies} == set(FAMILIES)
    assert {s.backtest.mode for s in strategies} == {"long_flat", "long_short"}


def test_fifty_seeds_all_validate_and_give_usable_features(bundled: dict[str, Bars]) -> None:
    for seed in range(50):
        strategy = design(seed)
        # It survives the wire: no infinities or other values JSON cannot carry.
        assert StrategyConfig.model_validate_json(strategy.model_dump_json()) == strategy
        bars = bundled[strategy.data.symbol]
        features = compute_features(strategy, bars)
        assert features.valid_from < 300, strategy.name
        valid = features.valid_values
        assert np.isfinite(valid).all()
        # Every column carries information: fuzzy sets placed where values actually fall.
        active = (valid > 0.05).mean(axis=0)
        fuzzy_columns = sum(len(f.sets) for f in strategy.fuzzy)
        assert (active[:fuzzy_columns] > 0.01).all(), (strategy.name, features.names, active)
        assert (valid.std(axis=0) > 0).all(), (strategy.name, features.names)


def test_designs_also_work_on_nasdaq(bundled: dict[str, Bars]) -> None:
    for seed in range(10):
        strategy = design(seed, symbol="NASDAQ")
        assert compute_features(strategy, bundled["NASDAQ"]).valid_from < 300


def test_defaults_sp500_daily_with_the_out_of_sample_split() -> None:
    for seed in range(30):
        s = design(seed)
        assert (s.data.symbol, s.data.timeframe) == ("SP500", "1d")
        assert s.data.train_end == date(2013, 12, 31)
        assert s.data.test_start == date(2014, 1, 1)
        assert EPOCHS_RANGE[0] <= s.model.epochs <= EPOCHS_RANGE[1]
        assert s.model.seed == seed
        assert 1 <= len(s.model.hidden_layers) <= 3
        assert 1e-4 < s.model.learning_rate < 1e-2
        assert 0.001 < s.labels.threshold < 0.1
        assert s.description


def test_symbol_timeframe_and_epochs_overrides_are_honoured() -> None:
    s = design(1, symbol="nasdaq", timeframe="1h", epochs=7)
    assert (s.data.symbol, s.data.timeframe, s.model.epochs) == ("NASDAQ", "1h", 7)
    # The overrides change only what they name.
    plain = design(1)
    assert s.indicators == plain.indicators
    assert s.model.model_copy(update={"epochs": plain.model.epochs}) == plain.model


@pytest.mark.parametrize("seed", [0, 3, 42, 999_999])
def test_names_read_family_date_seed(seed: int) -> None:
    families = "|".join(FAMILIES)
    assert re.fullmatch(rf"({families})_20261125_{seed}", design(seed).name)


def test_a_cancelled_token_stops_the_design() -> None:
    token = CancellationToken()
    token.cancel("stop")
    with pytest.raises(CancellationRequested):
        BuiltinDesigner().design(DesignRequest(seed=1, now=NOW), token)


def test_designer_name() -> None:
    assert BuiltinDesigner().name == "builtin"
