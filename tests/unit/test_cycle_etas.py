"""The ETA's history keeper (``ktrdr.jobs.cycle_eta``) over a real OperationsService and
in-memory store, on a clock the test moves: cycles recorded as the worker records them
(the cycle, its training and backtest children, the phase parameter)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ktrdr.jobs.cycle_eta import CycleEtas
from ktrdr.operations.progress import ProgressUpdate
from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore, OperationQuery
from ktrdr.records.models import Operation, OperationType
from ktrdr.records.summary import OperationSummary
from tests.support.stores import PassThroughStore

PARAMS = {"folds": 0, "candidates": 1, "epochs": 20, "designer": "builtin", "phase": "idle"}
# designing, training, backtesting, assessing (seconds)
PHASES = (1.0, 20.0, 4.0, 1.0)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CountingStore(PassThroughStore):
    """A real store that counts the reads that reach it."""

    reads = 0

    def page(self, query: OperationQuery) -> list[OperationSummary]:
        self.reads += 1
        return super().page(query)

    def get(self, operation_id: str) -> Operation | None:
        self.reads += 1
        return super().get(operation_id)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> CountingStore:
    return CountingStore(InMemoryOperationStore())


@pytest.fixture
def service(store: CountingStore, clock: Clock) -> Iterator[OperationsService]:
    service = OperationsService(store, clock=clock)
    yield service
    service.close()


def etas_for(service: OperationsService, clock: Clock, kept: int = 500) -> CycleEtas:
    etas = CycleEtas(
        service, executor="thread", workers=2, bars_of=lambda *_: 5000, kept=kept, clock=clock
    )
    service.add_listener(etas.observe)
    etas.load()
    return etas


def begin(service: OperationsService, clock: Clock, scale: float = 1.0) -> tuple[str, str]:
    """A cycle through designing into training: (its id, its running training's id)."""
    cycle = service.create(OperationType.AGENT_RESEARCH, parameters=PARAMS).operation_id
    service.start(cycle)
    service.update_parameters(cycle, {"phase": "designing"})
    clock.advance(PHASES[0] * scale)
    training = service.create(
        OperationType.TRAINING, parent_operation_id=cycle, parameters={"epochs": 20}
    ).operation_id
    service.update_parameters(cycle, {"phase": "training"})
    service.start(training)
    return cycle, training


def finish(
    service: OperationsService, clock: Clock, cycle: str, training: str, scale: float = 1.0
) -> None:
    """The rest of the cycle: training to its end, backtesting, assessing, completed."""
    clock.advance(PHASES[1] * scale)
    service.complete(training, {})
    backtest = service.create(OperationType.BACKTESTING, parent_operation_id=cycle).operation_id
    service.update_parameters(cycle, {"phase": "backtesting"})
    service.start(backtest)
    clock.advance(PHASES[2] * scale)
    service.complete(backtest, {})
    service.update_parameters(cycle, {"phase": "assessing"})
    clock.advance(PHASES[3] * scale)
    service.complete(cycle, {}, parameters={"phase": "completed"})


def run_cycle(service: OperationsService, clock: Clock, scale: float = 1.0) -> str:
    cycle, training = begin(service, clock, scale)
    finish(service, clock, cycle, training, scale)
    return cycle


def test_the_fourth_cycle_has_an_eta_from_its_first_second(
    service: OperationsService, clock: Clock
) -> None:
    etas = etas_for(service, clock)
    for _ in range(2):
        run_cycle(service, clock)
    cycle, training = begin(service, clock)
    assert etas.estimate(service.get(cycle)) is None  # two comparable cycles: no estimate
    finish(service, clock, cycle, training)
    fourth, training = begin(service, clock)
    eta = etas.estimate(service.get(fourth))
    assert eta is not None and eta.comparable == 3
    assert eta.seconds == pytest.approx(sum(PHASES) - PHASES[0])
    # Halfway through its training, its trainings say so: half the training is left.
    clock.advance(PHASES[1] / 2)
    service.update_progress(training, ProgressUpdate(50.0, "Epoch 10/20"))
    eta = etas.estimate(service.get(fourth))
    assert eta is not None and eta.seconds == pytest.approx(PHASES[1] / 2 + PHASES[2] + PHASES[3])
    assert etas.estimate(service.get(training)) is None  # a training is not a cycle


def test_failed_and_cancelled_cycles_stay_out(service: OperationsService, clock: Clock) -> None:
    etas = etas_for(service, clock)
    for _ in range(2):
        run_cycle(service, clock)
    failed, _ = begin(service, clock)
    service.fail(failed, "no")
    cancelled, _ = begin(service, clock)
    service.cancel(cancelled)
    service.finish_cancelled(cancelled)
    assert len(etas.history) == 2
    cycle, _ = begin(service, clock)
    assert etas.estimate(service.get(cycle)) is None


def test_a_restarted_backend_reads_its_history_once_then_never_per_request(
    service: OperationsService, store: CountingStore, clock: Clock
) -> None:
    for scale in (1.0, 1.0, 2.0, 1.0):
        run_cycle(service, clock, scale)
    service.close()
    again = OperationsService(store, clock=clock)
    try:
        etas = etas_for(again, clock, kept=3)
        assert len(etas.history) == 3  # the newest three of four
        cycle, _ = begin(again, clock)
        store.reads = 0
        for _ in range(50):
            clock.advance(0.1)
            assert etas.estimate(again.get(cycle)) is not None
        assert store.reads == 0  # open work and the history are in memory
    finally:
        again.close()


def test_a_tree_read_hands_its_nodes_over(service: OperationsService, clock: Clock) -> None:
    etas = etas_for(service, clock)
    for _ in range(3):
        run_cycle(service, clock)
    cycle, training = begin(service, clock)
    clock.advance(5.0)
    service.update_progress(training, ProgressUpdate(25.0, "Epoch 5/20"))
    nodes = service.tree(cycle).nodes
    from_tree = etas.estimate(nodes[0], nodes)
    from_service = etas.estimate(service.get(cycle))
    assert from_tree is not None and from_service is not None
    assert from_tree.seconds == pytest.approx(from_service.seconds)


def test_nothing_before_the_history_is_read(service: OperationsService, clock: Clock) -> None:
    for _ in range(3):
        run_cycle(service, clock)
    etas = CycleEtas(service, executor="thread", workers=2, bars_of=lambda *_: 5000, clock=clock)
    cycle, _ = begin(service, clock)
    assert etas.estimate(service.get(cycle)) is None  # not read yet: no waiting on the store
    etas.start()
    etas.join(5.0)
    assert etas.estimate(service.get(cycle)) is not None
    etas.close()


def test_a_fault_in_the_estimate_never_fails_a_read(
    service: OperationsService, clock: Clock
) -> None:
    def broken(symbol: str, timeframe: str) -> int | None:
        raise ValueError(f"no bars for {symbol} {timeframe}")

    etas = CycleEtas(service, executor="thread", workers=2, bars_of=broken, clock=clock)
    service.add_listener(etas.observe)
    etas.load()
    for _ in range(3):
        run_cycle(service, clock)
    cycle, _ = begin(service, clock)
    assert etas.estimate(service.get(cycle)) is None  # said in the log, not to the reader
