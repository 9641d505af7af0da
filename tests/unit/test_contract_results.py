"""The typed results and progress contexts: exact round trips, old and odd rows, and the
real producers' output, which must parse into the records with the keys written before."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ktrdr.agents.workers.research_worker import (
    AgentResearchWorker,
    CycleDependencies,
    CycleRequest,
)
from ktrdr.backtesting.engine import run_backtest
from ktrdr.backtesting.job import SUMMARY_EQUITY_POINTS, backtest_summary
from ktrdr.contract.operations import OperationPublic
from ktrdr.contract.progress import (
    Phase,
    ResearchCycleProgressContext,
    TrainingProgressContext,
    child_id_of_phase,
    phase_of,
    progress_context_of,
    research_cycle_context_of,
    training_context_of,
)
from ktrdr.contract.results import (
    BacktestSummary,
    BenchmarkFigures,
    CycleBacktest,
    CycleTraining,
    EpochFigures,
    EquityCurve,
    Headline,
    ResearchCycleSummary,
    TradingMetrics,
    TrainingSummary,
    backtest_summary_of,
    headline,
    research_cycle_summary_of,
    result_of,
    stopped_at_of,
    training_summary_of,
)
from ktrdr.operations.cancellation import CancellationToken
from ktrdr.operations.service import OperationsService
from ktrdr.operations.summary import summarize
from ktrdr.records.models import (
    Operation,
    OperationMetadata,
    OperationProgress,
    OperationStatus,
    OperationType,
)
from ktrdr.training.model_store import load_model
from tests.support.reporting import RecordingReporter
from tests.support.research_fakes import FakeDesigner, RecordingStore, ScriptedLauncher
from tests.unit.test_training import model_dir, random_walk, strategy, train

KTRDR = Path(__file__).resolve().parents[2] / "ktrdr"


def op(
    kind: OperationType,
    result: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    status: OperationStatus = OperationStatus.COMPLETED,
    parameters: dict[str, Any] | None = None,
) -> Operation:
    return Operation(
        operation_id="op_x",
        operation_type=kind,
        status=status,
        result_summary=result,
        progress=OperationProgress(context=context or {}),
        metadata=OperationMetadata(parameters=parameters or {}),
    )


TRAINING = TrainingSummary(
    strategy_name="s",
    model_path="/m/s/1",
    epochs_completed=3,
    epochs_total=5,
    val_accuracy=0.55,
    val_loss=1.02,
    feature_names=("rsi", "ret"),
    train_range=("2000-01-03", "2010-01-04"),
    train_label_counts={"sell": 1, "hold": 2, "buy": 3},
    history=(EpochFigures(epoch=1, train_loss=1.1, val_loss=1.2),),
)
BACKTEST = BacktestSummary(
    symbol="SP500",
    start="2016-01-04T00:00:00",
    bars=700,
    metrics=TradingMetrics(sharpe_ratio=0.8, num_trades=12, profit_factor=None),
    benchmark=BenchmarkFigures(sharpe_ratio=0.5, total_return=0.2),
    equity_curve=EquityCurve(timestamps=("2016-01-04T00:00:00",), values=(10_000.0,)),
    trades_count=12,
)
CYCLE = ResearchCycleSummary(
    strategy_name="s",
    verdict="neutral",
    sharpe_ratio=0.8,
    trades=12,
    profit_factor=None,
    reasons=("Sharpe below 1",),
    benchmark=BenchmarkFigures(name="buy and hold", sharpe_ratio=0.5, max_drawdown=None),
    training=CycleTraining(operation_id="op_t", epochs=3, accuracy=0.55),
    backtest=CycleBacktest(symbol="SP500", bars=700),
    seed=7,
    strategy={"name": "s", "indicators": []},
)


@pytest.mark.parametrize(
    ("kind", "record"),
    [
        (OperationType.TRAINING, TRAINING),
        (OperationType.BACKTESTING, BACKTEST),
        (OperationType.AGENT_RESEARCH, CYCLE),
    ],
)
def test_each_kind_round_trips_with_exactly_the_keys_its_producer_set(
    kind: OperationType, record: Any
) -> None:
    stored = record.to_dict()
    assert result_of(op(kind, stored)) == record
    assert result_of(op(kind, stored)).to_dict() == stored  # type: ignore[union-attr]
    # An explicit None stays a null, an unset field is no key at all.
    if kind is OperationType.AGENT_RESEARCH:
        assert stored["profit_factor"] is None and "score" not in stored
        assert stored["benchmark"] == {
            "name": "buy and hold",
            "sharpe_ratio": 0.5,
            "max_drawdown": None,
        }


def test_the_typed_readers_answer_only_for_their_own_kind() -> None:
    training = op(OperationType.TRAINING, TRAINING.to_dict())
    assert training_summary_of(training) == TRAINING
    assert backtest_summary_of(training) is None
    assert research_cycle_summary_of(training) is None
    assert result_of(op(OperationType.TRAINING, None)) is None


def test_an_old_row_with_few_keys_parses_and_the_rest_is_none() -> None:
    cancelled = op(
        OperationType.AGENT_RESEARCH,
        {"phase": "training", "stopped_at": "Training stopped at epoch 3/10"},
        status=OperationStatus.CANCELLED,
    )
    summary = research_cycle_summary_of(cancelled)
    assert summary is not None
    assert (summary.phase, summary.stopped_at) == ("training", "Training stopped at epoch 3/10")
    assert (summary.verdict, summary.benchmark, summary.reasons) == (None, None, ())
    assert stopped_at_of(cancelled) == "Training stopped at epoch 3/10"
    forced = op(OperationType.BACKTESTING, {"stopped_at": "Bar 5/10", "forced": True})
    assert backtest_summary_of(forced) == BacktestSummary(stopped_at="Bar 5/10", forced=True)
    assert stopped_at_of(op(OperationType.TRAINING, {})) is None


def test_unknown_keys_are_ignored_at_every_level() -> None:
    stored = {**BACKTEST.to_dict(), "new_figure": 3, "trades": [{"return": 0.1}]}
    stored["metrics"] = {**stored["metrics"], "calmar_ratio": 2.0}
    assert backtest_summary_of(op(OperationType.BACKTESTING, stored)) == BACKTEST


def test_odd_values_blank_one_figure_not_the_result() -> None:
    stored = {
        "verdict": "poor",
        "sharpe_ratio": "high",  # not a number
        "trades": 2.5,  # not a whole number
        "reasons": "one string",  # not a list
        "benchmark": "buy and hold",  # not a mapping
        "training": {"epochs": "three", "accuracy": 0.5},  # one odd field inside
        "strategy": ["not", "a", "mapping"],
    }
    summary = research_cycle_summary_of(op(OperationType.AGENT_RESEARCH, stored))
    assert summary is not None
    assert summary.verdict == "poor"
    assert (summary.sharpe_ratio, summary.trades, summary.reasons) == (None, None, ())
    assert (summary.benchmark, summary.strategy) == (None, None)
    assert summary.training == CycleTraining(accuracy=0.5)


def test_building_a_record_stays_strict() -> None:
    """Leniency is for reading stored rows; a producer's mistake still fails loudly."""
    with pytest.raises(ValidationError):
        TrainingSummary.model_validate({"epochs_complete": 3})  # a renamed key
    with pytest.raises(ValidationError):
        TrainingSummary.model_validate({"epochs_completed": "three"})


def test_a_part_is_the_wholes_fields_of_the_same_names_each_set() -> None:
    whole = BacktestSummary(symbol="SP500", timeframe="1d", start="2020-01-02", bars=700)
    part = CycleBacktest.part_of(whole)
    # Every field is set, an unknown one as an explicit null, as the hand copy stored it.
    assert part.to_dict() == {
        "symbol": "SP500",
        "start": "2020-01-02",
        "end": None,
        "bars": 700,
        "detail_path": None,
    }
    with pytest.raises(AttributeError):
        CycleTraining.part_of(whole)  # a backtest has no epochs: a part must be a true part


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        *ResearchCycleSummary.model_fields,
        *BacktestSummary.model_fields,
        *TrainingSummary.model_fields,
        *TrainingProgressContext.model_fields,
        "child_op_id",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(list(OperationType)),
    result=st.dictionaries(KEYS, JSON, max_size=8),
    context=st.dictionaries(KEYS, JSON, max_size=6),
)
def test_no_stored_row_makes_a_reader_raise(
    kind: OperationType, result: dict[str, Any], context: dict[str, Any]
) -> None:
    row = op(kind, result, context)
    record = result_of(row)
    assert record is not None and set(record.to_dict()) <= set(result)  # no invented keys
    assert progress_context_of(row) is not None
    assert stopped_at_of(row) is None or isinstance(stopped_at_of(row), str)
    summary = summarize(row)  # the store builds every listing row with headline_of
    assert isinstance(headline(summary), Headline)


# --- progress contexts ---------------------------------------------------------------------


def test_progress_contexts_per_kind_and_the_cycle_phase() -> None:
    training = op(
        OperationType.TRAINING,
        context={"total_epochs": 10, "epoch": 3, "val_loss": 0.9, "lr": 0.1},
        status=OperationStatus.RUNNING,
    )
    assert training_context_of(training) == TrainingProgressContext(
        total_epochs=10, epoch=3, val_loss=0.9
    )
    assert research_cycle_context_of(training) is None
    cycle = op(
        OperationType.AGENT_RESEARCH,
        context={"phase": "backtesting", "child_op_id": "op_b"},
        status=OperationStatus.RUNNING,
        parameters={"phase": "backtesting", "backtest_op_id": "op_b", "training_op_id": "op_t"},
    )
    assert research_cycle_context_of(cycle) == ResearchCycleProgressContext(
        phase="backtesting", child_op_id="op_b"
    )
    assert (phase_of(cycle), child_id_of_phase(cycle)) == (Phase.BACKTESTING, "op_b")
    unknown = op(OperationType.AGENT_RESEARCH, parameters={"phase": "dreaming"})
    assert (phase_of(unknown), child_id_of_phase(unknown)) == (None, None)
    assert phase_of(op(OperationType.TRAINING, parameters={"phase": "training"})) is None


# --- the real producers --------------------------------------------------------------------


# The keys each producer stored before the engines made the records themselves: stored rows,
# the API and the client depend on them (the wire format only ever gains keys).
TRAINING_KEYS = {
    "strategy_name",
    "model_path",
    "epochs_completed",
    "epochs_total",
    "train_loss",
    "val_loss",
    "train_accuracy",
    "val_accuracy",
    "train_samples",
    "val_samples",
    "feature_names",
    "train_range",
    "val_range",
    "train_label_counts",
    "history",
    "best_epoch",
    "stopped_epoch",
    "stopped_early",
    "best_val_loss",
    "final_val_loss",
}
EPOCH_KEYS = {"epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy"}
METRICS_KEYS = {
    "total_return",
    "annualised_return",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "win_rate",
    "num_trades",
    "profit_factor",
    "exposure",
}
BENCHMARK_KEYS = {"total_return", "annualised_return", "sharpe_ratio", "max_drawdown"}
BACKTEST_FIGURE_KEYS = {
    "symbol",
    "timeframe",
    "mode",
    "start",
    "end",
    "bars",
    "initial_capital",
    "final_equity",
    "metrics",
    "benchmark",
    "equity_curve",
}
BACKTEST_KEYS = {*BACKTEST_FIGURE_KEYS, "strategy_name", "model", "trades_count", "detail_path"}


def test_the_training_engine_and_job_write_what_the_records_read(tmp_path: Path) -> None:
    reporter = RecordingReporter()
    result = train(strategy(epochs=3), random_walk(600), tmp_path, reporter=reporter)
    stored = result.to_dict()  # what the job returns and the operation keeps
    assert set(stored) == TRAINING_KEYS
    assert [set(row) for row in stored["history"]] == [EPOCH_KEYS] * 3
    assert json.loads(json.dumps(stored, allow_nan=False)) == stored
    assert stored["model_path"] == str(Path(stored["model_path"]))  # a plain path string
    parsed = training_summary_of(op(OperationType.TRAINING, stored))
    assert parsed is not None and parsed.to_dict() == stored and parsed == result
    assert (parsed.epochs_completed, parsed.epochs_total) == (3, 3)
    assert [h.epoch for h in parsed.history] == [1, 2, 3]
    contexts = [report["context"] for report in reporter.reports]
    last = TrainingProgressContext.read(contexts[-1])
    assert last is not None and (last.epoch, last.total_epochs) == (3, 3)
    assert last.val_loss == pytest.approx(result.val_loss)
    assert set(contexts[-1]) == {*EPOCH_KEYS, "total_epochs"}
    # Each epoch's report carries the figures its history row keeps, unchanged.
    reported = [EpochFigures.read(context) for context in contexts]
    assert reported == list(result.history)


def test_the_backtest_job_writes_what_it_wrote_before(tmp_path: Path) -> None:
    config = strategy(epochs=2)
    bars = random_walk(900, seed=5)
    trained = train(config, bars, tmp_path / "models")
    model = load_model(model_dir(trained), tmp_path / "models")
    result = run_backtest(
        bars,
        model.predict_positions(bars),
        config.backtest,
        reporter=RecordingReporter(),
        token=CancellationToken(),
    )
    detail_path = tmp_path / "detail.json"
    stored = backtest_summary(result, model, detail_path).to_dict()
    assert set(stored) == BACKTEST_KEYS
    assert set(stored["metrics"]) == METRICS_KEYS and set(stored["benchmark"]) == BENCHMARK_KEYS
    assert json.loads(json.dumps(stored, allow_nan=False)) == stored
    first, last = (str(t) for t in np.datetime_as_string(bars.timestamps[[0, -1]], unit="s"))
    assert (stored["start"], stored["end"], stored["bars"]) == (first, last, len(bars))
    assert (stored["strategy_name"], stored["model"]) == (config.name, str(model.path))
    assert (stored["trades_count"], stored["detail_path"]) == (len(result.trades), str(detail_path))
    assert stored["final_equity"] == float(result.equity[-1])
    assert stored["metrics"]["num_trades"] == len(result.trades)
    curve = stored["equity_curve"]
    assert len(curve["values"]) == len(curve["timestamps"]) == SUMMARY_EQUITY_POINTS
    assert (curve["values"][0], curve["values"][-1]) == (result.equity[0], result.equity[-1])
    full = [str(t) for t in np.datetime_as_string(bars.timestamps, unit="s")]
    picked = [full.index(t) for t in curve["timestamps"]]
    assert picked == sorted(set(picked)) and (picked[0], picked[-1]) == (0, len(bars) - 1)
    assert curve["values"] == [float(result.equity[i]) for i in picked]
    parsed = backtest_summary_of(op(OperationType.BACKTESTING, stored))
    assert parsed is not None and parsed.to_dict() == stored
    assert parsed.metrics == result.metrics and parsed.benchmark == result.benchmark
    # The detail file keeps the same figures, the whole curve and every trade.
    detail = result.to_detail()
    assert set(detail) >= BACKTEST_FIGURE_KEYS | {"trades", "buy_and_hold_curve"}
    assert detail["metrics"] == stored["metrics"] and detail["benchmark"] == stored["benchmark"]
    assert detail["equity_curve"]["timestamps"] == full
    assert len(detail["trades"]) == len(result.trades)


def test_a_research_cycle_writes_what_the_records_read() -> None:
    store = RecordingStore()
    service = OperationsService(store)
    parent = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "idle"})
    service.start(parent.operation_id)
    worker = AgentResearchWorker(
        CycleDependencies(
            service=service,
            launcher=ScriptedLauncher(service),
            designer=FakeDesigner(service, parent_id=parent.operation_id),
        )
    )
    worker.run(parent.operation_id, CycleRequest(seed=3))
    cycle = service.get(parent.operation_id)
    summary = research_cycle_summary_of(OperationPublic.from_domain(cycle))
    assert summary is not None and summary.to_dict() == cycle.result_summary
    assert summary.verdict in ("promising", "neutral", "poor")
    assert summary.training is not None and summary.training.accuracy == pytest.approx(0.55)
    assert summary.benchmark is not None and summary.benchmark.name
    seen = [research_cycle_context_of(v) for v in store.history[parent.operation_id]]
    phases = [c.phase for c in seen if c is not None and c.phase]
    assert phases[0] == "designing" and phases[-1] == "completed"
    children = {c.child_op_id for c in seen if c is not None and c.child_op_id}
    assert children == {k.operation_id for k in service.children(parent.operation_id)}
    assert len(children) == 2
    figures = headline(summarize(cycle))
    assert figures.strategy_name == "fake_3"
    assert figures.sharpe_ratio == pytest.approx(1.3) and figures.trades == 24
    assert figures.seed is None  # the test's cycle recorded no seed parameter
    service.close()


# --- no string keys outside the records ----------------------------------------------------

# Reading a result or a context key by string, instead of through the typed records.
KEY_READS = re.compile(
    r"result_summary\s*\["
    r"|result_summary\s*(or\s*\{\}\s*\)\s*)?\.get\("
    r"|\(\s*[\w.]+\.result_summary or \{\}\)\s*(\[|if\b)"
    r"|\.context\s*(or\s*\{\}\s*\)\s*)?\.get\("
    r"|\.context\s*\["
    r"|=\s*[\w.]*(result_summary|\.context) or \{\}\s*$"
)


def key_reads() -> list[str]:
    found = []
    for path in sorted(KTRDR.rglob("*.py")):
        name = path.relative_to(KTRDR).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if KEY_READS.search(line):
                found.append(f"ktrdr/{name}:{number}: {line.strip()}")
    return found


def test_the_pattern_sees_a_string_key_read() -> None:
    for line in (
        'x = (op.result_summary or {}).get("stopped_at")',
        'op.result_summary["verdict"]',
        "ctx = op.progress.context or {}",
        'op.progress.context.get("epoch")',
    ):
        assert KEY_READS.search(line), line
    for line in (
        "summary = dict(result_summary or {})",  # the service merging what a worker gave
        "result_summary={**(op.result_summary or {}), **summary},",
    ):
        assert not KEY_READS.search(line), line
    assert KEY_READS.search("summary = (parent.result_summary or {}) if parent else {}")


def test_no_module_reads_result_or_context_keys_by_string() -> None:
    found = key_reads()
    assert not found, "read these through ktrdr.contract.results / .progress:\n" + "\n".join(found)


# --- a renamed key is a type error ---------------------------------------------------------

RENAMED_KEYS = """
from ktrdr.contract.progress import TrainingProgressContext
from ktrdr.contract.results import ResearchCycleSummary, TrainingSummary

TrainingSummary(epochs_complete=3)
ResearchCycleSummary(verdict="poor", sharpe=1.0)
TrainingProgressContext(total_epoch=3)


def shown(summary: ResearchCycleSummary) -> object:
    return summary.win_ratio
"""


@pytest.mark.slow
def test_mypy_refuses_a_renamed_key_where_it_is_written_and_where_it_is_read(
    tmp_path: Path,
) -> None:
    """What the records are for: the producers and readers of a key are checked by mypy
    (the models forbid extra fields, so the pydantic plugin types their constructors)."""
    snippet = tmp_path / "renamed_keys.py"
    snippet.write_text(RENAMED_KEYS, encoding="utf-8")
    root = KTRDR.parent
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(root / "pyproject.toml"), str(snippet)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    for name in ("epochs_complete", "sharpe", "total_epoch", "win_ratio"):
        assert f'"{name}"' in out, out
    assert "Found 4 errors" in out, out
