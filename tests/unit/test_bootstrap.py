"""The composition root builds what the Settings name: a store in memory or SQLite behind a
write-behind cache, the service over it with the training-history listener wired, and the
executor the setting picks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ktrdr.bootstrap import build_executor, build_operations, build_runtime
from ktrdr.config import Settings, load_settings
from ktrdr.executors.process import ProcessExecutor
from ktrdr.executors.thread import LocalExecutor
from ktrdr.operations.store import InMemoryOperationStore
from ktrdr.records.models import OperationStatus, OperationType
from tests.support.progress import report


def settings_for(data_dir: Path, **fields: object) -> Settings:
    return load_settings(data_dir=data_dir, **fields)


def test_an_ephemeral_stack_keeps_operations_in_memory_and_feeds_the_history(
    tmp_path: Path,
) -> None:
    operations = build_operations(settings_for(tmp_path, ephemeral=True))
    try:
        assert (operations.store_description, operations.write_behind) == ("memory", None)
        op = operations.service.create(OperationType.TRAINING)
        operations.service.start(op.operation_id)
        report(operations.service, op.operation_id, 50, "Epoch 1/2", context={"epoch": 1})
        kept = operations.training_history.epochs(op.operation_id)
        assert kept is not None and [row.epoch for row in kept.epochs] == [1]
    finally:
        operations.close()
    assert list(tmp_path.iterdir()) == []  # nothing reached the disk


def test_a_persistent_stack_writes_sqlite_through_its_cache(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ephemeral=False, progress_flush_seconds=60)
    first = build_operations(settings)
    assert first.write_behind is not None
    assert first.store_description == f"sqlite:{tmp_path / 'ktrdr.db'}"
    op = first.service.create(OperationType.BACKTESTING)
    first.service.start(op.operation_id)
    first.service.complete(op.operation_id, {})
    first.close()  # the cache flushes on close, well before its 60 s interval
    again = build_operations(settings)
    try:
        assert again.service.get(op.operation_id).status is OperationStatus.COMPLETED
    finally:
        again.close()


def test_a_given_store_gets_the_backends_service_and_listeners(tmp_path: Path) -> None:
    store = InMemoryOperationStore()
    operations = build_operations(settings_for(tmp_path, ephemeral=False), store=store)
    try:
        op = operations.service.create(OperationType.TRAINING)
        assert store.get(op.operation_id) is not None
        operations.service.start(op.operation_id)
        report(operations.service, op.operation_id, 10, "Epoch 1/9", context={"epoch": 1})
        assert operations.training_history.epochs(op.operation_id) is not None
    finally:
        operations.close()
    assert not (tmp_path / "ktrdr.db").exists()


@pytest.mark.parametrize(
    ("name", "kind"), [("thread", LocalExecutor), ("process", ProcessExecutor)]
)
def test_the_executor_is_the_one_the_setting_names(tmp_path: Path, name: str, kind: type) -> None:
    operations = build_operations(settings_for(tmp_path, ephemeral=True))
    executor = build_executor(operations.service, settings_for(tmp_path, executor=name))
    try:
        assert isinstance(executor, kind)
    finally:
        executor.shutdown()
        operations.close()


def test_a_runtime_shares_one_service_between_its_parts(tmp_path: Path) -> None:
    runtime = build_runtime(settings_for(tmp_path, ephemeral=True, executor="thread"))
    try:
        assert runtime.jobs.service is runtime.service
        assert runtime.jobs.executor is runtime.executor
        assert runtime.jobs.models_dir == tmp_path / "models"
        assert runtime.cluster_state() is None and runtime.store_problem() is None
        op = runtime.service.create(OperationType.TRAINING)
        runtime.service.start(op.operation_id)
    finally:
        runtime.close()
    # Closing the backend ends what it left running, with the reason.
    assert runtime.service.get(op.operation_id).status is OperationStatus.FAILED
