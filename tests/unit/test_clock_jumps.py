"""Issue 21, item 5: with the wall clock set back, the newest model and the newest operation
still come first. The clock is injected (the system clock is never touched); the ordering
is the backend's own sequence, not a timestamp."""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from ktrdr.operations.service import OperationsService
from ktrdr.operations.store import InMemoryOperationStore, OperationStore
from ktrdr.operations.summary import summarize
from ktrdr.records.models import Operation, OperationStatus, OperationType
from ktrdr.records.summary import OperationSummary
from ktrdr.storage.sqlite_store import SCHEMA_VERSION, SqliteOperationStore
from ktrdr.storage.write_behind import WriteBehindStore
from ktrdr.strategies.models import StrategyConfig
from ktrdr.training.model_store import list_models, load_model, save_model

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class SettableClock:
    """A wall clock the test sets, as an operator (or NTP) would."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# --- models -----------------------------------------------------------------------------------


def tiny_model(seed: int) -> tuple[MLPClassifier, StandardScaler]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 2))
    y = (x[:, 0] > 0).astype(np.int64)
    scaler = StandardScaler().fit(x)
    classifier = MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 5 iterations: on purpose
        classifier.fit(scaler.transform(x), y)
    return classifier, scaler


def synthetic_strategy() -> StrategyConfig:
    return StrategyConfig.model_validate(
        {
            "name": "synthetic",
            "indicators": [{"name": "rsi", "type": "rsi", "params": {"period": 5}}],
            "model": {"hidden_layers": [3], "epochs": 1},
        }
    )


def save(models_dir: Path, clock: SettableClock, seed: int) -> Path:
    classifier, scaler = tiny_model(seed)
    strategy = synthetic_strategy()
    return save_model(
        models_dir, strategy, classifier, scaler, ["rsi"], {"seed": seed}, clock=clock
    )


def test_a_model_saved_after_the_clock_went_back_is_the_one_a_name_picks(tmp_path: Path) -> None:
    """Item 5 (models): newest by sequence, not by the timestamp in the folder's name."""
    clock = SettableClock(NOON)
    first = save(tmp_path, clock, seed=1)
    clock.now = NOON - timedelta(hours=6)  # the clock is set back
    second = save(tmp_path, clock, seed=2)
    clock.now = NOON - timedelta(days=400)  # and back again, further
    third = save(tmp_path, clock, seed=3)

    assert load_model("synthetic", tmp_path).path == third.resolve()
    assert load_model("synthetic", tmp_path).meta["seed"] == 3
    listed = list_models(tmp_path)
    assert [m.path for m in listed] == [first, second, third]  # oldest first, by sequence
    assert [m.sequence for m in listed] == [1, 2, 3]


def test_legacy_timestamp_folders_sort_before_sequenced_ones(tmp_path: Path) -> None:
    """Item 5 (models): a folder named by its stamp alone (before the sequence) is older
    than any sequenced one, and the next sequence follows the highest taken."""
    clock = SettableClock(NOON)
    first = save(tmp_path, clock, seed=1)
    legacy = first.parent / "20990101T000000.000000Z"  # a stamp far "later" than the rest
    first.rename(legacy)
    clock.now = NOON - timedelta(hours=1)
    newer = save(tmp_path, clock, seed=2)
    assert newer.name.startswith("000001-")
    (newer.parent / "000041-broken").mkdir()  # an incomplete folder still takes its number
    newest = save(tmp_path, clock, seed=3)
    assert newest.name.startswith("000042-")
    assert [m.path for m in list_models(tmp_path)] == [legacy, newer, newest]
    assert load_model("synthetic", tmp_path).path == newest.resolve()


# --- operations -------------------------------------------------------------------------------


StoreMaker = Callable[[Path], OperationStore]
STORES: dict[str, StoreMaker] = {
    "memory": lambda _path: InMemoryOperationStore(),
    "sqlite": lambda path: SqliteOperationStore(path / "ktrdr.db"),
    "write-behind": lambda path: WriteBehindStore(
        SqliteOperationStore(path / "ktrdr.db"), flush_interval=3600
    ),
}


@pytest.fixture(params=sorted(STORES))
def clocked(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[OperationsService, SettableClock]]:
    clock = SettableClock(NOON)
    service = OperationsService(STORES[request.param](tmp_path), clock=clock)
    yield service, clock
    service.close()


def ids(rows: Sequence[Operation | OperationSummary]) -> list[str]:
    return [row.operation_id for row in rows]


def test_an_operation_created_after_the_clock_went_back_is_listed_first(
    clocked: tuple[OperationsService, SettableClock],
) -> None:
    """Item 5 (operations): every listing is newest first by the store's sequence."""
    service, clock = clocked
    parent = service.start(service.create(OperationType.AGENT_RESEARCH).operation_id)
    old_child = service.create(OperationType.TRAINING, parent_operation_id=parent.operation_id)
    finished = service.create(OperationType.BACKTESTING)
    clock.now = NOON - timedelta(hours=2)  # set back
    new_child = service.create(OperationType.TRAINING, parent_operation_id=parent.operation_id)
    newest = service.create(OperationType.BACKTESTING)
    service.start(finished.operation_id)
    service.complete(finished.operation_id, {})

    everything, total = service.list_operations()
    assert total == 5
    assert ids(everything) == [
        newest.operation_id,
        new_child.operation_id,
        finished.operation_id,
        old_child.operation_id,
        parent.operation_id,
    ]
    trainings, _ = service.list_operations(operation_type=OperationType.TRAINING)
    assert ids(trainings) == [new_child.operation_id, old_child.operation_id]
    # Only open ones can match: answered from memory, in the same order.
    pending, _ = service.list_operations(status=OperationStatus.PENDING)
    assert ids(pending) == [newest.operation_id, new_child.operation_id, old_child.operation_id]
    # Oldest first where a reader wants creation order.
    assert ids(service.children(parent.operation_id)) == [
        old_child.operation_id,
        new_child.operation_id,
    ]
    assert ids(service.open_operations()) == [
        parent.operation_id,
        old_child.operation_id,
        new_child.operation_id,
        newest.operation_id,
    ]


def test_the_order_survives_a_restart_of_the_store(tmp_path: Path) -> None:
    """Item 5 (operations): the sequence is stored, so a reopened database lists the same."""
    clock = SettableClock(NOON)
    first = OperationsService(SqliteOperationStore(tmp_path / "ktrdr.db"), clock=clock)
    before = first.create(OperationType.TRAINING)
    clock.now = NOON - timedelta(days=1)
    after = first.create(OperationType.TRAINING)
    for op in (before, after):
        first.start(op.operation_id)
        first.complete(op.operation_id, {})
    first.close()
    clock.now = NOON - timedelta(days=2)
    again = OperationsService(SqliteOperationStore(tmp_path / "ktrdr.db"), clock=clock)
    try:
        latest = again.create(OperationType.TRAINING)
        page, _ = again.list_operations()
        assert ids(page) == [latest.operation_id, after.operation_id, before.operation_id]
    finally:
        again.close()


# The operations table as schema 2 wrote it: no sequence column, listing indexes on time.
_SCHEMA_2 = """
CREATE TABLE operations (
    operation_id TEXT PRIMARY KEY, operation_type TEXT NOT NULL, status TEXT NOT NULL,
    parent_operation_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    version INTEGER NOT NULL, body TEXT NOT NULL, summary TEXT);
CREATE INDEX ix_ops_created ON operations(created_at, operation_id);
CREATE INDEX ix_ops_type ON operations(operation_type, created_at, operation_id);
PRAGMA user_version=2;
"""


def test_a_schema_2_database_is_migrated_in_place_keeping_its_insertion_order(
    tmp_path: Path,
) -> None:
    """Item 5 (operations): an existing database gains the sequence in the order its rows
    were inserted (their rowid), whatever their timestamps say."""
    path = tmp_path / "ktrdr.db"
    inserted = [
        Operation(
            operation_id=f"op_training_{n}",
            operation_type=OperationType.TRAINING,
            status=OperationStatus.COMPLETED,
            created_at=NOON - timedelta(hours=n),  # each one "older" than the one before
            updated_at=NOON,
        )
        for n in range(3)
    ]
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(_SCHEMA_2)
        for op in inserted:
            conn.execute(
                "INSERT INTO operations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    op.operation_id,
                    op.operation_type.value,
                    op.status.value,
                    None,
                    op.created_at.isoformat(),
                    op.updated_at.isoformat(),
                    op.version,
                    op.model_dump_json(),
                    summarize(op).model_dump_json(),
                ),
            )
        conn.commit()
    clock = SettableClock(NOON - timedelta(days=30))
    service = OperationsService(SqliteOperationStore(path), clock=clock)
    try:
        latest = service.create(OperationType.TRAINING)
        page, total = service.list_operations()
        assert total == 4
        assert ids(page) == [latest.operation_id, *reversed(ids(inserted))]
    finally:
        service.close()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        plan = " ".join(
            str(row[-1])
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT summary FROM operations "
                "WHERE operation_type = 'training' ORDER BY seq DESC LIMIT 5"
            )
        )
        assert "USE TEMP B-TREE" not in plan, plan  # the listing still reads an index in order
