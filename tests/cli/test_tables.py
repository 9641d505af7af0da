"""`ops list` as a parent/child tree and `ops show` as a readable page, rendered to a string."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from rich.console import Console

from ktrdr.cli.views.tables import (
    RESULTS_TABLE_WIDTH,
    operation_details,
    operations_table,
    results_listing,
    results_table,
    sorted_results,
    tree_order,
)
from ktrdr.contract.operations import OperationPublic, OperationSummaryPublic
from ktrdr.operations.summary import summarize
from tests.support.snapshots import T0, snapshot


def full(op_id: str, minute: int, parent: str | None = None, **kw: object) -> OperationPublic:
    made = snapshot(op_id, **kw)  # type: ignore[arg-type]
    return made.model_copy(
        update={"created_at": T0 + timedelta(minutes=minute), "parent_operation_id": parent}
    )


def op(op_id: str, minute: int, parent: str | None = None, **kw: object) -> OperationSummaryPublic:
    """The operation as a listing row, as `ops list` and `agent results` receive it."""
    return OperationSummaryPublic.from_domain(summarize(full(op_id, minute, parent, **kw)), T0)


def render(renderable: object, width: int = 140) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def test_children_are_listed_under_their_parent_oldest_first() -> None:
    # Newest first, as the API pages them; the orphan's parent is on another page.
    page = [
        op("cycle2", 9),
        op("bt1", 5, parent="cycle1", op_type="backtesting"),
        op("orphan", 4, parent="elsewhere", op_type="training"),
        op("train1", 2, parent="cycle1", op_type="training"),
        op("cycle1", 1),
        op("grandchild", 3, parent="train1", op_type="training"),
    ]
    assert [(depth, o.operation_id) for depth, o in tree_order(page)] == [
        (0, "cycle2"),
        (0, "orphan"),
        (0, "cycle1"),
        (1, "train1"),
        (2, "grandchild"),
        (1, "bt1"),
    ]
    lines = render(operations_table(page)).splitlines()
    ids = [line.split("│")[0].strip() for line in lines if "│" in line]
    assert ids == ["cycle2", "orphan", "cycle1", "└─ train1", "└─ grandchild", "└─ bt1"]
    assert any(line.startswith("    └─ grandchild") for line in lines)


def test_show_is_readable_and_points_to_json_for_the_rest() -> None:
    summary = {
        "verdict": "poor",
        "sharpe_ratio": -0.8479828824586294,
        "reasons": ["Sharpe -0.85 < 0.25", "97 trades ≥ 10"],
        "training": {"epochs": 51, "accuracy": 0.3907103825136612},
        "strategy": {"name": "trend_x", "indicators": [{"name": "ema", "params": {"fast": 5}}]},
        "empty": None,
    }
    text = render(
        operation_details(
            full("cycle1", 1, status="completed", pct=100, summary=summary, params={"seed": 11})
        )
    )
    assert re.search(r"sharpe_ratio +-0\.848 *\n", text)
    assert "• Sharpe -0.85 < 0.25" in text and "• 97 trades ≥ 10" in text
    assert "epochs=51  accuracy=0.3907" in text
    assert "name=trend_x  (more with --json)" in text
    assert "'params'" not in text and "empty" not in text  # no raw dumps, no None rows
    assert re.search(r"seed +11 *\n", text)
    assert "ktrdr ops show cycle1 --json" in text


def test_a_narrow_terminal_drops_type_and_time_but_never_cuts_an_id() -> None:
    long_id = "op_agent_research_20261125_092603_ac973717"
    page = [
        op(long_id, 2, step="Training model..."),
        op("op_training_20261125_092603_6f629dd5", 3, parent=long_id, op_type="training"),
    ]
    narrow = render(operations_table(page, 80), width=80)
    assert long_id in narrow and "└─ op_training_20261125_092603_6f629dd5" in narrow
    assert "Type" not in narrow and "Created" not in narrow
    assert all(len(line) <= 80 for line in narrow.splitlines())
    wide = render(operations_table(page, 160), width=160)
    assert "agent_research" in wide.split(long_id)[1] and "Created (UTC)" in wide


def test_results_rank_completed_cycles_and_show_the_benchmark() -> None:
    def done(op_id: str, minute: int, verdict: str, sharpe: float) -> OperationSummaryPublic:
        summary = {
            "strategy_name": f"s_{op_id}",
            "verdict": verdict,
            "sharpe_ratio": sharpe,
            "total_return": 0.1,
            "max_drawdown": 0.2,
            "trades": 12,
            "benchmark": {"sharpe_ratio": 0.54},
        }
        return op(op_id, minute, status="completed", pct=100, summary=summary)

    cycles = [
        op("running", 9, params={"strategy_name": "s_running"}),
        done("c3", 8, "poor", -0.4),
        done("c2", 7, "promising", 1.2),
        done("c1", 6, "neutral", 1.5),
    ]
    assert [c.operation_id for c in sorted_results(cycles, "newest")] == [
        "c3",
        "c2",
        "c1",
        "running",
    ]
    assert [c.operation_id for c in sorted_results(cycles, "sharpe")][:3] == ["c1", "c2", "c3"]
    assert [c.operation_id for c in sorted_results(cycles, "verdict")][:3] == ["c2", "c1", "c3"]
    text = render(results_table(sorted_results(cycles, "verdict")))
    (row,) = [line for line in text.splitlines() if line.startswith(" c2 ")]
    assert "promising" in row and "+1.20" in row and "+0.54" in row and "20%" in row
    (pending,) = [line for line in text.splitlines() if "running" in line and "s_running" in line]
    assert "-" in pending


def test_results_on_a_narrow_terminal_take_a_few_lines_each_and_keep_ids_whole() -> None:
    long_id = "op_agent_research_20261125_094411_cf6bc7c1"
    summary = {
        "strategy_name": "momentum_breakout_1",
        "verdict": "neutral",
        "sharpe_ratio": 0.44,
        "total_return": 0.12,
        "max_drawdown": 0.11,
        "trades": 28,
        "benchmark": {"sharpe_ratio": 0.54},
    }
    cycles = [op(long_id, 1, status="completed", pct=100, summary=summary)]
    narrow = render(results_listing(cycles, len(cycles), 80), width=80)
    assert [line.strip() for line in narrow.splitlines()[:2]] == [
        f"{long_id}  neutral",
        "momentum_breakout_1",
    ]
    assert "Sharpe +0.44 (B&H +0.54)  Return +12%  Max DD 11%  28 trades" in narrow
    assert all(len(line) <= 80 for line in narrow.splitlines())
    wide = RESULTS_TABLE_WIDTH
    assert "┃" in render(results_listing(cycles, len(cycles), wide), width=wide)  # the table
