"""What a researcher sees in the terminal, item by item: an epoch count with thousands
separators, a line for every phase a cycle went through (also those over before the
first answer), the live view's blank line and its last frame after Ctrl+C, one formatter
per kind of figure in a completion summary, and `agent results` described as what it is.

The plain-view check at the end runs the real command against a real backend."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from ktrdr.cli.app import app
from ktrdr.cli.views import LiveRenderer, PlainRenderer
from ktrdr.cli.views.figures import count, loss, percent, percents, ratio
from ktrdr.cli.views.outcomes import outcome_lines, research_summary, training_summary
from ktrdr.cli.views.tables import excess_column, results_table
from ktrdr.client.follow import Event, EventKind, ViewState
from ktrdr.contract.operations import OperationSummaryPublic
from ktrdr.contract.results import (
    BenchmarkFigures,
    DeflatedSharpeRecord,
    IntervalRecord,
    ResearchCycleSummary,
    ResearchStatistics,
    TrainingSummary,
)
from ktrdr.data.bars import Bars
from ktrdr.operations.cancellation import CancellationRequested, CancellationToken
from ktrdr.operations.progress import ProgressUpdate
from ktrdr.records.models import OperationStatus, OperationType
from ktrdr.records.summary import Headline
from ktrdr.strategies.models import StrategyConfig
from ktrdr.training import train_strategy
from tests.support.live_backend import LiveBackend, run_ktrdr
from tests.support.snapshots import T0, cycle, snapshot

# --- 1. the epoch step groups thousands, as the bar step does ("Bar 1,258/1,258") -----------


class CancelAfterFirstEpoch:
    """Keeps the first epoch's step and cancels the training there."""

    def __init__(self, token: CancellationToken) -> None:
        self.token = token
        self.steps: list[str] = []

    def report(self, update: ProgressUpdate) -> None:
        self.steps.append(update.current_step or "")
        self.token.cancel()


def test_the_epoch_step_groups_thousands(tmp_path: Path) -> None:
    """Item 1: `Epoch 1/1,200`, and a cancel says where in the same spelling."""
    rng = np.random.default_rng(0)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 300)))
    stamps = np.datetime64("2000-01-03") + np.arange(close.size).astype("timedelta64[D]")
    bars = Bars("TEST", "1d", stamps, close, close * 1.01, close * 0.99, close, np.ones(300))
    strategy = StrategyConfig.model_validate(
        {
            "name": "thousands",
            "data": {"validation_fraction": 0.25},
            "indicators": [{"name": "rsi", "type": "rsi", "params": {"period": 5}}],
            "labels": {"horizon": 2, "threshold": 0.005},
            "model": {"hidden_layers": [4], "epochs": 1200, "seed": 1},
        }
    )
    token = CancellationToken()
    reporter = CancelAfterFirstEpoch(token)
    with pytest.raises(CancellationRequested) as stopped:
        train_strategy(strategy, bars, reporter=reporter, token=token, models_dir=tmp_path)
    assert reporter.steps == ["Epoch 1/1,200"]
    assert stopped.value.where == "Epoch 1/1,200"


# --- 2. every phase passed gets its line in the plain view, in order ---------------------------


def plain_lines(*updates: tuple[ViewState, list[Event]]) -> list[str]:
    out = io.StringIO()
    renderer = PlainRenderer(Console(file=out, width=200, color_system=None))
    for state, events in updates:
        renderer.update(state, events)
    return out.getvalue().splitlines()


def test_phases_over_before_the_first_answer_still_get_their_lines() -> None:
    """Item 2: first seen in training, the cycle still says it designed first."""
    lines = plain_lines(
        (
            ViewState("cycle", parent=cycle("training", 4), phase="training"),
            [Event(EventKind.STARTED, "training")],
        ),
        (
            ViewState("cycle", parent=cycle("completed", 9, status="completed"), done=True),
            [
                Event(EventKind.PHASE_PASSED, "backtesting"),
                Event(EventKind.PHASE_PASSED, "assessing"),
                Event(EventKind.PHASE_CHANGED, "completed"),
            ],
        ),
    )
    assert lines == [
        "Research Cycle cycle: running",
        "Phase: Designing strategy... (done before the first update)",
        "Phase: Training model... (20%)",
        "Phase: Backtesting... (began and ended between updates)",
        "Phase: Assessing results... (began and ended between updates)",
        "Phase: Complete (100%)",
    ]


def test_a_child_that_has_not_reported_gets_no_empty_progress_line() -> None:
    """Item 2 (the same log): no `Training c1 f3:  (0%)` with nothing to say."""
    quiet = snapshot("t1", op_type="training", pct=0, params={"candidate": 0, "fold": 2})
    parent = cycle("training", 4, child="t1")
    lines = plain_lines(
        (ViewState("cycle", parent=parent, child=quiet, phase="training"), []),
    )
    assert not any(line.strip().endswith(":  (0%)") for line in lines), lines


# --- 3. the live view: a blank line before the first bar; Ctrl+C keeps the last frame --------


def live_screen(*states: ViewState, cancel: bool) -> list[str]:
    """What a terminal keeps of a live follow: the last frame and the lines after it."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=110, color_system=None)
    renderer = LiveRenderer(console, clock=lambda: 0.0)
    renderer.start()
    for number, state in enumerate(states):
        if cancel and number == len(states) - 1:
            renderer.show_cancelling()
        renderer.update(state)
    renderer.finish(outcome_lines(states[-1], interrupted=cancel))
    kept = out.getvalue()
    first_frame_at = kept.index("\x1b[?25l")  # the live region hides the cursor first
    head, tail = kept[:first_frame_at], kept.rsplit("\x1b[2K", 1)[-1]
    for code in ("\x1b[?25l", "\x1b[?25h", "\r"):
        tail = tail.replace(code, "")
    return [head, *(line.rstrip() for line in tail.splitlines())]


def training(op_version: int = 3) -> ViewState:
    return ViewState(
        "cycle",
        parent=cycle("training", op_version, child="t1", elapsed=135.0),
        child=snapshot("t1", op_type="training", pct=45, step="Epoch 4,500/10,000", elapsed=92.0),
        phase="training",
    )


def test_the_live_view_starts_with_a_blank_line() -> None:
    """Item 3: a blank line between the command and the first bar."""
    head = live_screen(training(), cancel=False)[0]
    assert head == "\n"


def test_after_ctrl_c_the_last_frame_keeps_the_child_and_the_step() -> None:
    """Item 3: the cancelled cycle's last frame keeps `└─ Epoch ...` and its step as shown
    (no new `Phase:` prefix), then the cancel notice and the cancelled line."""
    stopping = training(4)
    child = snapshot(
        "t1", op_type="training", status="cancelled", pct=45, step="Epoch 4,500/10,000"
    )
    stopping = ViewState("cycle", parent=stopping.parent, child=child, phase="training")
    stopped = {"stopped_at": "Training stopped at epoch 4,500/10,000"}
    parent = cycle("training", 5, status="cancelled", summary=stopped)
    ended = ViewState("cycle", parent=parent, phase="training", done=True)
    screen = live_screen(training(), stopping, ended, cancel=True)[1:]
    assert screen[0].startswith("🔬 Research Cycle [20%]"), screen
    assert screen[1] == "   Training model..."
    assert re.match(r"   └─ Epoch 4,500/10,000 \[45%\]", screen[2]), screen
    assert "ETA" not in screen[2]  # a stopped child has nothing left to wait for
    assert screen[-2:] == [
        "⚠️ Cancelling research cycle...",
        "✓ Cancelled. Training stopped at epoch 4,500/10,000.",
    ]


# --- 5. one formatter per kind of figure ---------------------------------------------------------


def test_each_kind_of_figure_has_one_spelling() -> None:
    """Item 5: percentages, ratios, losses and counts each read one way."""
    assert [percent(0.005), percent(0.21), percent(-0.391, sign="+")] == ["0.5%", "21%", "-39%"]
    assert percents([0.041, -0.012, 0.09], "+") == ["+4.1%", "-1.2%", "+9.0%"]
    assert percents([-0.391, -0.932, 0.1], "+") == ["-39%", "-93%", "+10%"]
    assert [ratio(0.5), ratio(-0.756, "+"), loss(0.85123), count(20000)] == [
        "0.50",
        "-0.76",
        "0.851",
        "20,000",
    ]
    assert [ratio(None), loss(None), count(None), count(True)] == ["-", "-", "-", "-"]


def test_a_completion_summary_spells_the_same_figures_the_same_way() -> None:
    """Item 5: the buy-and-hold line reads like the strategy's line above it, and an
    estimate shares its interval's decimals."""
    summary = ResearchCycleSummary(
        sharpe_ratio=-0.756,
        win_rate=0.41,
        max_drawdown=0.2061,
        trades=1234,
        benchmark=BenchmarkFigures(sharpe_ratio=0.58, total_return=0.22, max_drawdown=0.2),
        statistics=ResearchStatistics(
            significant=False,
            deflated_sharpe=DeflatedSharpeRecord(probability=0.4101, trials=4),
            holdout_excess=IntervalRecord(estimate=-0.391, low=-0.932, high=0.004),
        ),
    )
    lines = [text for text, _ in research_summary(summary)]
    assert lines[2] == "Sharpe: -0.76 | Win Rate: 41% | Max DD: 21%"
    assert lines[3] == "Buy & hold, same bars: Sharpe: 0.58 | Return: 22% | Max DD: 20%"
    assert lines[4].startswith("Deflated Sharpe: 0.41 (best of 4 tries) | Holdout vs buy & hold: ")
    assert "-39.1% [-93.2%, +0.4%]" in lines[4], lines[4]
    assert lines[-1].endswith(", 1,234 trades")
    trained = TrainingSummary(
        epochs_completed=20000, epochs_total=20000, val_accuracy=0.6, val_loss=0.85123
    )
    assert training_summary(trained)[0][0] == (
        "Epochs: 20,000/20,000 | Val accuracy: 60% | Val loss: 0.851"
    )


def summary_row(op_id: str, figures: Headline) -> OperationSummaryPublic:
    """A completed cycle's listing row carrying ``figures`` as its headline."""
    return OperationSummaryPublic(
        operation_id=op_id,
        operation_type=OperationType.AGENT_RESEARCH,
        status=OperationStatus.COMPLETED,
        created_at=T0,
        updated_at=T0,
        headline=figures.model_dump(exclude_none=True),
    )


def test_a_results_column_shares_its_decimals() -> None:
    """Item 5: the `agent results` table's Return, Max DD and holdout columns each keep one
    number of decimals from row to row ("+12.0%" under "-0.7%", never "+12%")."""
    big = Headline(total_return=0.12, max_drawdown=0.2, excess_return=-0.3)
    small = Headline(total_return=-0.007, max_drawdown=0.15, excess_return=0.041)
    small = small.model_copy(update={"excess_low": -0.012, "excess_high": 0.09})
    rows = [
        summary_row(f"op_agent_research_{n}", figures) for n, figures in enumerate((big, small))
    ]
    out = io.StringIO()
    Console(file=out, width=220, color_system=None).print(results_table(rows))
    cells = [line.split("│") for line in out.getvalue().splitlines() if "op_agent" in line]
    assert [[c.strip() for c in (r[5], r[6], r[11])] for r in cells] == [
        ["+12.0%", "20%", "-30.0%"],
        ["-0.7%", "15%", "+4.1% [-1.2%, +9.0%]"],
    ]
    assert excess_column([big, small]) == ["-30.0%", "+4.1% [-1.2%, +9.0%]"]


# --- 7. `agent results` is a ranked list; `agent compare` is the side-by-side view -----------


def test_agent_results_help_says_what_it_shows() -> None:
    """Item 7: no "side by side" for a list; it names `agent compare` for that."""
    shown = CliRunner().invoke(app, ["agent", "results", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    first = " ".join(shown.output.split())
    assert "Past research cycles ranked, one under the other" in first
    assert "side by side: ktrdr agent compare" in first
    listed = CliRunner().invoke(app, ["agent", "--help"], env={"COLUMNS": "200"})
    row = next(line for line in listed.output.splitlines() if "│ results" in line)
    assert "ranked" in row and "Past research cycles side by side" not in row


# --- 2, for real: the plain log of a real cycle names every phase in order -------------------


def test_a_real_cycle_logs_every_phase_in_order(backend: LiveBackend) -> None:
    """Item 2 end to end: `agent trigger -f --progress plain` prints each phase once, in
    the phase table's order, however fast the short ones go by."""
    done = run_ktrdr(
        backend.env,
        *("agent", "trigger", "-f", "--progress", "plain", "--folds", "0", "--epochs", "3"),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    phases = [line for line in done.stdout.splitlines() if line.startswith("Phase: ")]
    names = [re.sub(r" \(.*$", "", line.removeprefix("Phase: ")) for line in phases]
    assert names == [
        "Designing strategy...",
        "Training model...",
        "Backtesting...",
        "Assessing results...",
        "Complete",
    ], phases


# --- 8. the README's quick start --------------------------------------------------------------


def test_the_quick_start_opens_with_the_virtual_environment() -> None:
    """Item 8: venv first, then the two commands; it says the backend keeps running, how to
    stop it, and how to watch a longer cycle."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", quick, flags=re.S)
    assert blocks[0].startswith("python3.11 -m venv .venv && . .venv/bin/activate"), blocks
    assert blocks[1].strip() == (
        "python3 -m pip install -e '.[dev]' && python3 -m ktrdr agent trigger --monitor"
    )
    assert blocks[2].strip() == "python3 -m pytest"
    for needle in ("keeps running", "`ktrdr server stop`", "takes seconds"):
        assert needle in " ".join(quick.split()), needle
    for command in ("ktrdr agent trigger --epochs", "ktrdr agent status -f", "ktrdr ops wait"):
        assert command in blocks[3], command
