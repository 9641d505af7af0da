"""The jobs layer for trainings and backtests: requests in, operations and submitted jobs out.

A real in-memory OperationsService and the bundled market data; the executor only records
what it was given, so each test sees exactly which operations and jobs a request made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ktrdr.backtesting.job import BacktestJob
from ktrdr.contract.requests import BacktestStartRequest, TrainingStartRequest
from ktrdr.data.market import MarketData
from ktrdr.errors import InvalidRequestError, StrategyValidationError
from ktrdr.jobs.backtests import start_backtest
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.jobs.strategy_files import read_strategy
from ktrdr.jobs.training import build_strategy, start_training
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.progress import NullProgressReporter
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationStatus, OperationType
from ktrdr.strategies.loader import dump_strategy, load_strategy
from ktrdr.training.job import TrainingJob
from tests.support.recording_executor import RecordingExecutor

EXAMPLE = "rsi_mean_reversion"


def make_deps(root: Path, models_dir: Path | None = None) -> JobDependencies:
    service = OperationsService(InMemoryOperationStore())
    return JobDependencies(
        service=service,
        executor=RecordingExecutor(service),
        market=MarketData(root / "data"),
        models_dir=models_dir or root / "models",
        backtests_dir=root / "backtests",
    )


def recorded(deps: JobDependencies) -> RecordingExecutor:
    assert isinstance(deps.executor, RecordingExecutor)
    return deps.executor


def operation_count(deps: JobDependencies) -> int:
    return deps.service.list_operations()[1]


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[JobDependencies]:
    made = make_deps(tmp_path)
    yield made
    made.service.close()


@pytest.fixture(scope="module")
def trained_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model of the example strategy (2 epochs), trained through the jobs layer."""
    root = tmp_path_factory.mktemp("trained")
    deps = make_deps(root)
    start_training(deps, TrainingStartRequest(strategy=EXAMPLE, epochs=2))
    ((_, job),) = recorded(deps).jobs
    job(NullProgressReporter(), CancellationToken())
    deps.service.close()
    return deps.models_dir


# --- training ---------------------------------------------------------------------------


def test_a_training_for_an_unknown_symbol_creates_nothing(deps: JobDependencies) -> None:
    with pytest.raises(InvalidRequestError) as info:
        start_training(deps, TrainingStartRequest(strategy=EXAMPLE, symbol="NOPE"))
    assert info.value.details["field"] == "symbol"
    assert operation_count(deps) == 0
    assert recorded(deps).jobs == []


def test_a_training_too_big_for_its_bars_creates_nothing(
    deps: JobDependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bound is on epochs x training rows, known only once the bars are loaded (the
    # bundled daily series stay under the real bound; an imported hourly one need not).
    monkeypatch.setattr("ktrdr.strategies.models.MAX_SAMPLE_EPOCHS", 10_000)
    request = TrainingStartRequest(strategy=EXAMPLE, epochs=50)
    with pytest.raises(StrategyValidationError) as info:
        start_training(deps, request)
    assert info.value.details["field"] == "model.epochs"
    assert "row-epochs" in info.value.message
    assert operation_count(deps) == 0
    assert recorded(deps).jobs == []


def test_a_good_training_request_creates_one_pending_operation_and_submits_its_job(
    deps: JobDependencies,
) -> None:
    op = start_training(
        deps,
        TrainingStartRequest(
            strategy=EXAMPLE, symbol="nasdaq", epochs=5, train_end=date(2012, 6, 29)
        ),
    )
    assert (op.operation_type, op.status) == (OperationType.TRAINING, OperationStatus.PENDING)
    assert op.metadata.parameters == {
        "strategy_name": EXAMPLE,
        "symbol": "NASDAQ",
        "timeframe": "1d",
        "epochs": 5,
        "train_start": str(load_strategy(EXAMPLE).data.train_start),
        "train_end": "2012-06-29",
    }
    assert operation_count(deps) == 1
    ((job_id, job),) = recorded(deps).jobs
    assert job_id == op.operation_id
    assert isinstance(job, TrainingJob)
    assert (job.strategy.data.symbol, job.strategy.model.epochs) == ("NASDAQ", 5)
    assert (job.market, job.models_dir) == (deps.market, deps.models_dir)


@pytest.mark.parametrize(
    "request_",
    [TrainingStartRequest(), TrainingStartRequest(strategy=EXAMPLE, strategy_config={"name": "x"})],
)
def test_a_training_names_exactly_one_strategy(request_: TrainingStartRequest) -> None:
    with pytest.raises(InvalidRequestError, match="exactly one of") as info:
        build_strategy(request_)
    assert info.value.details["field"] == "strategy"


def test_an_unknown_strategy_name_is_a_bad_request_naming_the_examples() -> None:
    with pytest.raises(InvalidRequestError, match="no such strategy: .*rsi_mean_reversion") as info:
        build_strategy(TrainingStartRequest(strategy="nope"))
    assert info.value.details["field"] == "strategy"


def test_an_invalid_inline_strategy_names_the_field() -> None:
    config = read_strategy(EXAMPLE)
    config["model"]["epochs"] = 0
    with pytest.raises(StrategyValidationError, match="Invalid strategy: model.epochs") as info:
        build_strategy(TrainingStartRequest(strategy_config=config))
    assert info.value.details["field"] == "strategy.model.epochs"


def test_a_name_and_the_same_strategy_sent_inline_build_the_same_strategy() -> None:
    overrides = TrainingStartRequest(symbol="nasdaq", epochs=7, train_start=date(2001, 1, 2))
    by_name = build_strategy(overrides.model_copy(update={"strategy": EXAMPLE}))
    inline = build_strategy(
        overrides.model_copy(update={"strategy_config": read_strategy(EXAMPLE)})
    )
    assert by_name == inline
    assert (by_name.data.symbol, by_name.model.epochs) == ("NASDAQ", 7)
    assert by_name.data.train_start == date(2001, 1, 2)
    assert by_name.indicators == load_strategy(EXAMPLE).indicators


def test_a_strategy_file_reads_as_the_fields_a_request_sends(tmp_path: Path) -> None:
    mine = load_strategy("trend_momentum").model_copy(update={"name": "my_trend"})
    path = tmp_path / "mine.yaml"
    path.write_text(dump_strategy(mine), encoding="utf-8")
    fields = read_strategy(str(path))
    json.dumps(fields)  # JSON-ready: it travels in a request body as it is
    assert build_strategy(TrainingStartRequest(strategy_config=fields)) == mine


# --- backtests --------------------------------------------------------------------------


def test_a_backtest_of_an_unknown_model_creates_nothing(deps: JobDependencies) -> None:
    with pytest.raises(InvalidRequestError):
        start_backtest(deps, BacktestStartRequest(model="no_such_model"))
    assert operation_count(deps) == 0
    assert recorded(deps).jobs == []


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        # inside the training range
        (BacktestStartRequest(model=EXAMPLE, start_date=date(2010, 1, 4)), "start"),
        (
            BacktestStartRequest(
                model=EXAMPLE, start_date=date(2016, 1, 4), end_date=date(2015, 1, 2)
            ),
            "end",
        ),
        (BacktestStartRequest(model=EXAMPLE, symbol="NOPE"), "symbol"),
    ],
)
def test_a_refused_backtest_names_the_field_and_creates_nothing(
    tmp_path: Path, trained_models: Path, request_: BacktestStartRequest, field: str
) -> None:
    deps = make_deps(tmp_path, trained_models)
    with pytest.raises(InvalidRequestError) as info:
        start_backtest(deps, request_)
    assert info.value.details["field"] == field
    assert operation_count(deps) == 0
    assert recorded(deps).jobs == []


def test_a_good_backtest_creates_one_pending_operation_and_its_job_writes_the_detail(
    tmp_path: Path, trained_models: Path
) -> None:
    deps = make_deps(tmp_path, trained_models)
    op = start_backtest(
        deps,
        BacktestStartRequest(
            model=EXAMPLE, start_date=date(2016, 1, 4), mode="long_short", commission=0
        ),
    )
    assert (op.operation_type, op.status) == (OperationType.BACKTESTING, OperationStatus.PENDING)
    params = op.metadata.parameters
    assert (params["strategy_name"], params["symbol"], params["mode"]) == (
        EXAMPLE,
        "SP500",
        "long_short",
    )
    assert (params["start"], params["end"]) == ("2016-01-04", None)
    assert Path(params["model"]).parent == trained_models.resolve() / EXAMPLE
    ((job_id, job),) = recorded(deps).jobs
    assert job_id == op.operation_id and isinstance(job, BacktestJob)
    assert job.model.strategy.backtest.commission == 0
    assert job.results_dir == deps.backtests_dir

    summary = job(NullProgressReporter(), CancellationToken())
    assert summary["strategy_name"] == EXAMPLE
    assert summary["detail_path"] == str(deps.backtests_dir / f"{op.operation_id}.json")
    assert Path(summary["detail_path"]).is_file()
