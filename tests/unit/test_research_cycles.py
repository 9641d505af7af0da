"""ResearchCycles: what a trigger creates and submits, what it refuses, and the status.

A real in-memory OperationsService and bundled market data; the executor only records the
cycle it was handed (the worker itself is tested in test_research_worker.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ktrdr.agents.workers.research_worker import CycleRequest
from ktrdr.config import load_settings
from ktrdr.data.market import MarketData
from ktrdr.errors import ConfigurationError, CycleAlreadyActiveError, InvalidRequestError
from ktrdr.jobs.cycles import SEED_RANGE, ResearchCycles, new_seed
from ktrdr.jobs.dependencies import JobDependencies
from ktrdr.jobs.research_children import ResearchLauncher
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationStatus, OperationType
from ktrdr.training.job import TrainingJob
from tests.support.recording_executor import RecordingExecutor
from tests.support.research_fakes import simple_strategy


@pytest.fixture
def executor() -> Iterator[RecordingExecutor]:
    service = OperationsService(InMemoryOperationStore())
    yield RecordingExecutor(service)
    service.close()


@pytest.fixture
def jobs(executor: RecordingExecutor, tmp_path: Path) -> JobDependencies:
    return JobDependencies(
        service=executor.service,
        executor=executor,
        market=MarketData(tmp_path / "data"),
        models_dir=tmp_path / "models",
        backtests_dir=tmp_path / "backtests",
    )


def cycles_with(jobs: JobDependencies) -> ResearchCycles:
    return ResearchCycles(jobs, load_settings())


def cycle_count(jobs: JobDependencies) -> int:
    return jobs.service.list_operations(operation_type=OperationType.AGENT_RESEARCH)[1]


def test_a_trigger_creates_one_cycle_and_hands_it_to_the_executor(
    jobs: JobDependencies, executor: RecordingExecutor
) -> None:
    cycle = cycles_with(jobs).trigger(CycleRequest(seed=42, symbol="NASDAQ", epochs=3))
    assert cycle.operation_type is OperationType.AGENT_RESEARCH
    params = cycle.metadata.parameters
    assert (params["phase"], params["seed"], params["designer"]) == ("idle", 42, "builtin")
    assert (params["symbol"], params["epochs"], params["model"]) == ("NASDAQ", 3, None)
    settings = load_settings()  # where its children run: an ETA compares only cycles run alike
    assert (params["executor"], params["workers"]) == (settings.executor, settings.workers)
    assert [op_id for op_id, _ in executor.orchestrations] == [cycle.operation_id]
    assert executor.jobs == []  # the children come later, from the worker


def test_a_trigger_without_a_request_gets_a_fresh_seed(jobs: JobDependencies) -> None:
    cycle = cycles_with(jobs).trigger()
    assert 0 <= cycle.metadata.parameters["seed"] < SEED_RANGE
    assert all(0 <= new_seed() < SEED_RANGE for _ in range(100))


def test_a_second_trigger_while_one_is_active_is_a_conflict(
    jobs: JobDependencies, executor: RecordingExecutor
) -> None:
    cycles = cycles_with(jobs)
    first = cycles.trigger(CycleRequest(seed=1))
    with pytest.raises(CycleAlreadyActiveError) as info:
        cycles.trigger(CycleRequest(seed=2))
    assert info.value.details["active_operation_id"] == first.operation_id
    assert cycle_count(jobs) == 1 and len(executor.orchestrations) == 1


def test_up_to_max_active_cycles_run_at_once_then_a_trigger_is_a_conflict(
    jobs: JobDependencies, executor: RecordingExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KTRDR_MAX_ACTIVE_CYCLES", "3")
    cycles = cycles_with(jobs)
    started = [cycles.trigger(CycleRequest(seed=seed)).operation_id for seed in range(3)]
    with pytest.raises(CycleAlreadyActiveError) as info:
        cycles.trigger(CycleRequest(seed=3))
    assert "KTRDR_MAX_ACTIVE_CYCLES=3" in info.value.message
    assert sorted(info.value.details["active_operation_ids"]) == sorted(started)
    assert cycle_count(jobs) == 3 and len(executor.orchestrations) == 3
    # One ends: there is room for one more, and only one.
    jobs.service.cancel(started[0])
    jobs.service.finish_cancelled(started[0], stopped_at="here")
    cycles.trigger(CycleRequest(seed=4))
    with pytest.raises(CycleAlreadyActiveError):
        cycles.trigger(CycleRequest(seed=5))
    assert cycle_count(jobs) == 4


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (CycleRequest(seed=1, model="haiku"), ConfigurationError),  # no ANTHROPIC_API_KEY
        (CycleRequest(seed=1, model="gpt-4"), InvalidRequestError),
        (CycleRequest(seed=1, symbol="NOPE"), InvalidRequestError),
    ],
)
def test_a_refused_trigger_creates_nothing(
    jobs: JobDependencies,
    executor: RecordingExecutor,
    request_: CycleRequest,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        cycles_with(jobs).trigger(request_)
    assert cycle_count(jobs) == 0 and executor.orchestrations == []


def test_the_claude_designer_comes_from_settings(
    jobs: JobDependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    cycle = cycles_with(jobs).trigger(CycleRequest(seed=1, model="sonnet"))
    assert cycle.metadata.parameters["designer"] == "llm:sonnet"


def test_status_shows_the_active_cycle_then_the_last_one(jobs: JobDependencies) -> None:
    cycles = cycles_with(jobs)
    idle = cycles.status()
    assert (idle.active, idle.cycle, idle.child) == (False, None, None)

    cycle = cycles.trigger(CycleRequest(seed=5))
    active = cycles.status()
    assert active.active and active.cycle is not None
    assert active.cycle.operation_id == cycle.operation_id and active.child is None

    jobs.service.start(cycle.operation_id)
    jobs.service.complete(cycle.operation_id, {"verdict": "neutral"})
    done = cycles.status()
    assert not done.active and done.cycle is not None
    assert done.cycle.status is OperationStatus.COMPLETED


def test_the_launcher_creates_a_child_training_then_submits_its_job(
    jobs: JobDependencies, executor: RecordingExecutor
) -> None:
    parent = jobs.service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "training"})
    launcher = ResearchLauncher(jobs)
    strategy = simple_strategy("child_strategy")
    child_id = launcher.create_training(strategy, parent.operation_id)
    child = jobs.service.get(child_id)
    assert child.parent_operation_id == parent.operation_id
    assert (child.operation_type, child.status) == (OperationType.TRAINING, OperationStatus.PENDING)
    assert executor.jobs == []  # created first, so the cycle can record the id

    launcher.submit_training(child_id, strategy)
    ((job_id, job),) = executor.jobs
    assert job_id == child_id and isinstance(job, TrainingJob) and job.strategy == strategy
