"""Which column of `agent compare` carries the best mark: the best of the completed cycles,
ties for the best shared, and no mark at all where every cycle is equal (a row of
"poor ★ poor ★" says nothing)."""

from __future__ import annotations

from typing import Any

from ktrdr.cli.views.compare import ROWS, best_columns

ROW = {row.key: row for row in ROWS}


def figures(*values: tuple[str, float, str]) -> list[dict[str, Any]]:
    return [{"status": s, "sharpe_ratio": sharpe, "verdict": v} for s, sharpe, v in values]


def test_the_best_completed_value_is_marked_and_ties_for_it_share_the_mark() -> None:
    rows = figures(
        ("completed", 0.4, "poor"), ("completed", 1.2, "neutral"), ("running", 3.0, "poor")
    )
    assert best_columns(ROW["sharpe_ratio"], rows) == {1}
    assert best_columns(ROW["verdict"], rows) == {1}
    rows = figures(
        ("completed", 1.2, "poor"), ("completed", 1.2, "poor"), ("completed", 0.1, "poor")
    )
    assert best_columns(ROW["sharpe_ratio"], rows) == {0, 1}


def test_a_row_where_every_cycle_is_equal_has_no_mark() -> None:
    rows = figures(("completed", 0.5, "poor"), ("completed", 0.5, "poor"))
    assert best_columns(ROW["verdict"], rows) == set()
    assert best_columns(ROW["sharpe_ratio"], rows) == set()


def test_a_row_of_percentages_shares_its_decimals() -> None:
    import io

    from rich.console import Console

    from ktrdr.cli.views.compare import ComparedCycle, compare_table
    from tests.support.snapshots import cycle

    def done(total_return: float) -> ComparedCycle:
        summary = {"verdict": "poor", "total_return": total_return, "max_drawdown": 0.24}
        return ComparedCycle(cycle("completed", 9, status="completed", summary=summary))

    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(
        compare_table([done(-0.19), done(-0.028)])
    )
    line = next(x for x in out.getvalue().splitlines() if x.startswith("Total return"))
    assert "-19.0%" in line and "-2.8%" in line, line
    line = next(x for x in out.getvalue().splitlines() if x.startswith("Max drawdown"))
    assert line.count("24%") == 2, line  # no share under 10 %: whole percents
