"""`ktrdr agent results` with the statistics that count every try: the deflated Sharpe (with
how many tries it is the best of), PBO and the holdout's excess return with its interval, as
columns of the table and lines of the narrow view; ordered by deflated Sharpe by default,
cycles without one (older cycles) after those with one; the real command against a real
backend, with cycles written into its database the way the research worker writes them."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console

from ktrdr.cli.views.tables import RESULT_SORTS, results_listing, sorted_results
from ktrdr.contract.operations import OperationSummaryPublic
from ktrdr.operations.summary import summarize
from ktrdr.records.models import OperationType
from ktrdr.records.research import (
    CandidateRecord,
    DeflatedSharpeRecord,
    FoldWindowRecord,
    IntervalRecord,
    OverfittingRecord,
    ResearchStatistics,
    WalkForwardRecord,
)
from ktrdr.records.results import BenchmarkFigures, ResearchCycleSummary
from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend, run_ktrdr
from tests.support.snapshots import T0, snapshot

LONG_ID = "op_agent_research_20261125_094411_cf6bc7c1"


def walk_forward(
    dsr: float, trials: int, pbo: float | None, excess: tuple[float, float, float] | None
) -> dict[str, Any]:
    """A walk-forward cycle's result, as the worker records it."""
    candidates = 4 if pbo is not None else 3  # PBO needs at least 4 candidates
    statistics = ResearchStatistics(
        deflated_sharpe=DeflatedSharpeRecord(probability=dsr, trials=trials, cycle_trials=4),
        overfitting=OverfittingRecord(probability=pbo) if pbo is not None else None,
        holdout_excess=(
            IntervalRecord(estimate=excess[0], low=excess[1], high=excess[2], confidence=0.95)
            if excess is not None
            else None
        ),
    )
    return ResearchCycleSummary(
        strategy_name=f"wf_{dsr:.2f}",
        verdict="promising",
        sharpe_ratio=dsr,  # distinct per cycle, so a sort by Sharpe has one right answer
        total_return=0.12,
        max_drawdown=0.08,
        trades=31,
        benchmark=BenchmarkFigures(sharpe_ratio=0.54),
        walk_forward=WalkForwardRecord(folds=tuple(FoldWindowRecord(index=i) for i in range(4))),
        candidates=tuple(CandidateRecord(index=i) for i in range(candidates)),
        statistics=statistics,
    ).to_dict()


def old_style(sharpe: float) -> dict[str, Any]:
    """A cycle's result from before walk-forward: no statistics at all."""
    return {"strategy_name": f"old_{sharpe}", "verdict": "neutral", "sharpe_ratio": sharpe}


def row(
    op_id: str, minute: int, summary: dict[str, Any] | None, status: str = "completed"
) -> OperationSummaryPublic:
    made = snapshot(op_id, status=status, pct=100 if summary else 40, summary=summary)
    made = made.model_copy(update={"created_at": T0 + timedelta(minutes=minute)})
    return OperationSummaryPublic.from_domain(summarize(made), T0)


def render(renderable: object, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def listing() -> list[OperationSummaryPublic]:
    """Newest first, as the API lists them."""
    return [
        row("running", 9, None, status="running"),
        row("old_new", 8, old_style(2.5)),
        row("weak", 7, walk_forward(0.41, 15, None, (-0.02, -0.081, 0.034))),
        row("old_old", 6, old_style(0.3)),
        row("strong", 5, walk_forward(0.97, 12, 0.21, (0.041, -0.012, 0.09))),
        row("middle", 4, walk_forward(0.63, 20, 0.4, None)),
    ]


def ids(rows: list[OperationSummaryPublic]) -> list[str]:
    return [r.operation_id for r in rows]


def test_the_default_order_is_by_deflated_sharpe_and_older_cycles_follow_newest_first() -> None:
    assert RESULT_SORTS[0] == "dsr"
    assert ids(sorted_results(listing())) == [
        "strong",
        "middle",
        "weak",
        "old_new",  # no deflated Sharpe: after every cycle with one, newest first
        "old_old",
        "running",  # not completed: last, as before
    ]
    by_sharpe = ["old_new", "strong", "middle", "weak", "old_old", "running"]
    assert ids(sorted_results(listing(), "sharpe")) == by_sharpe
    assert ids(sorted_results(listing(), "newest")) == ids(listing())[1:] + ["running"]


def test_the_table_shows_the_statistics_and_a_dash_where_a_cycle_has_none() -> None:
    text = render(results_listing(sorted_results(listing()), 6, 200), 200)
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "Deflated" in text and "PBO" in text and "Holdout excess" in text
    strong = lines["strong"].split("│")
    assert [cell.strip() for cell in strong[-4:]] == ["0.97", "12", "0.21", "+4.1% [-1.2%, +9.0%]"]
    weak = lines["weak"].split("│")
    assert [cell.strip() for cell in weak[-4:]] == ["0.41", "15", "-", "-2.0% [-8.1%, +3.4%]"]
    middle = lines["middle"].split("│")
    assert [cell.strip() for cell in middle[-2:]] == ["0.40", "-"]  # no interval recorded
    old = lines["old_new"].split("│")
    assert [cell.strip() for cell in old[-4:]] == ["-", "-", "-", "-"]
    assert all(len(line) <= 200 for line in text.splitlines())


def test_a_narrow_terminal_gives_each_cycle_its_statistics_lines_within_80_columns() -> None:
    cycles = [
        row(LONG_ID, 1, walk_forward(0.97, 12, 0.21, (0.041, -0.012, 0.09))),
        row("old_new", 0, old_style(2.5)),
    ]
    text = render(results_listing(sorted_results(cycles), 2, 80), 80)
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines[:5] == [
        f"{LONG_ID}  promising",
        "  wf_0.97",
        "  Sharpe +0.97 (B&H +0.54)  Return +12%  Max DD 8%  31 trades",
        "  Deflated Sharpe 0.97 (best of 12)  PBO 0.21",
        "  Holdout excess over B&H +4.1% [-1.2%, +9.0%]",
    ]
    assert lines[5:] == [
        "old_new  neutral",
        "  old_2.5",
        "  Sharpe +2.50 (B&H -)  Return -  Max DD -  - trades",  # and no statistics lines
    ]
    assert all(len(line) <= 80 for line in lines)


@pytest.fixture
def seeded_backend(backend_factory: BackendFactory) -> tuple[LiveBackend, dict[str, str]]:
    """A real backend whose database holds cycles of both kinds (written while stopped)."""
    backend = backend_factory(start=False)
    with backend.offline_service() as service:
        made: dict[str, str] = {}
        for name, summary in (
            ("strong", walk_forward(0.97, 12, 0.21, (0.041, -0.012, 0.09))),
            ("old", old_style(2.5)),
            ("weak", walk_forward(0.41, 15, None, None)),
        ):
            cycle = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "assessing"})
            service.start(cycle.operation_id)
            service.complete(cycle.operation_id, summary, parameters={"phase": "completed"})
            made[cycle.operation_id] = name
    backend.start()
    return backend, made


def test_the_real_command_sorts_by_deflated_sharpe_and_keeps_sort_sharpe(
    seeded_backend: tuple[LiveBackend, dict[str, str]],
) -> None:
    backend, made = seeded_backend
    proc = run_ktrdr(backend.env, "agent", "results", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [made[r["operation_id"]] for r in rows] == ["strong", "weak", "old"]
    assert (rows[0]["deflated_sharpe"], rows[0]["trials"], rows[0]["pbo"]) == (0.97, 12, 0.21)
    assert (rows[0]["excess_low"], rows[0]["excess_high"]) == (-0.012, 0.09)
    assert "deflated_sharpe" not in rows[2]  # an older cycle has none

    by_sharpe = run_ktrdr(backend.env, "agent", "results", "--sort", "sharpe", "--json")
    assert [made[r["operation_id"]] for r in json.loads(by_sharpe.stdout)] == [
        "old",
        "strong",
        "weak",
    ]
    same = run_ktrdr(backend.env, "agent", "results", "--sort", "dsr", "--json")
    assert [r["operation_id"] for r in json.loads(same.stdout)] == [r["operation_id"] for r in rows]

    table = run_ktrdr(backend.env, "agent", "results")  # 80 columns: lines, not a table
    assert table.returncode == 0, table.stderr
    assert "Deflated Sharpe 0.97 (best of 12)  PBO 0.21" in table.stdout
    assert "Holdout excess over B&H +4.1% [-1.2%, +9.0%]" in table.stdout
    bogus = run_ktrdr(backend.env, "agent", "results", "--sort", "bogus")
    assert bogus.returncode == 2
    assert "unknown sort 'bogus': use dsr, newest, sharpe, verdict" in bogus.stderr
