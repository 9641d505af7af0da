"""`ktrdr agent compare`: research cycles side by side, one column per cycle.

``ComparedCycle`` is what the command read of a cycle (the operation, its backtest's series
and its training's epochs); ``compared_figures`` is a cycle's figures as plain data (the
``--json`` object and what the table shows); ``compare_table`` draws them with the figure
formats of ``agent results`` and marks the best value of each row that has a better side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ktrdr.cli.charts.compare_chart import CYCLE_STYLES, ComparePicture, compare_chart
from ktrdr.cli.views.console import listing_console
from ktrdr.cli.views.figures import MISSING, number, percent, percents
from ktrdr.cli.views.tables import excess_text
from ktrdr.contract.operations import OperationPublic
from ktrdr.contract.pictures import BacktestSeriesPublic, TrainingHistoryPublic
from ktrdr.contract.progress import phase_of
from ktrdr.contract.results import Headline, ResearchCycleSummary, research_cycle_summary_of
from ktrdr.operations.summary import headline_of
from ktrdr.records.models import OperationStatus

BEST_MARK = "★"
CHART_PIPED_WIDTH = 100  # the chart's columns in a pipe or a file
_VERDICT_RANK = {"promising": 2.0, "neutral": 1.0, "poor": 0.0}
_VERDICT_STYLE = {"promising": "bold green", "neutral": "yellow", "poor": "red"}


@dataclass(frozen=True)
class ComparedCycle:
    op: OperationPublic
    series: BacktestSeriesPublic | None = None
    history: TrainingHistoryPublic | None = None
    problem: str | None = None  # why a curve could not be read

    @property
    def summary(self) -> ResearchCycleSummary:
        return research_cycle_summary_of(self.op) or ResearchCycleSummary()

    @property
    def done(self) -> bool:
        return self.op.status is OperationStatus.COMPLETED

    @property
    def short_id(self) -> str:
        return self.op.operation_id.rsplit("_", 1)[-1]

    @property
    def name(self) -> str:
        return self.summary.strategy_name or str(
            self.op.metadata.parameters.get("strategy_name") or "(not designed yet)"
        )

    @property
    def label(self) -> str:
        return f"{self.name} ({self.short_id})"

    @property
    def walk_forward(self) -> bool:
        return self.summary.walk_forward is not None


def _validation_sharpe(summary: ResearchCycleSummary) -> float | None:
    """A walk-forward cycle's chosen candidate's Sharpe over every fold's test bars."""
    chosen = next((c for c in summary.candidates if c.chosen), None)
    return chosen.validation_sharpe if chosen is not None else None


def compared_figures(cycle: ComparedCycle) -> dict[str, Any]:
    """A cycle's figures as plain data: its listing headline (the figures `agent results`
    shows), and what only the whole result holds. A figure not known yet is None."""
    summary = cycle.summary
    figures: dict[str, Any] = {
        "operation_id": cycle.op.operation_id,
        "status": cycle.op.status.value,
        "phase": (phase.value if (phase := phase_of(cycle.op)) else None),
        "strategy_name": summary.strategy_name,
        "walk_forward": cycle.walk_forward,
        "verdict": summary.verdict,
        **(Headline.read(headline_of(cycle.op)) or Headline()).model_dump(
            exclude={"strategy_name"}
        ),
        "exposure": summary.exposure,
        "profit_factor": summary.profit_factor,
        "validation_sharpe": _validation_sharpe(summary),
        "start": summary.backtest.start if summary.backtest else None,
        "end": summary.backtest.end if summary.backtest else None,
        "bars": summary.backtest.bars if summary.backtest else None,
        "training_epochs": summary.training.epochs if summary.training else None,
        "val_accuracy": summary.training.accuracy if summary.training else None,
    }
    for key in ("val_loss", "epochs_completed", "num_trades", "stopped_at", "score"):
        figures.pop(key, None)
    if figures["symbol"] is None and summary.backtest is not None:
        figures["symbol"] = summary.backtest.symbol
    return figures


@dataclass(frozen=True)
class Row:
    label: str
    key: str
    show: Callable[[dict[str, Any]], str]
    # How good a value is (higher is better); None: a row with no better side.
    rank: Callable[[Any], float] | None = None
    # A row of percentages: its cells share their decimals ("-19.0%" beside "-2.8%"), the
    # sign written as this says ("+" for returns).
    percent_sign: str | None = None


def _up(value: Any) -> float:
    return float(value)


def _down(value: Any) -> float:
    return -float(value)


def _shown(key: str, spec: str) -> Callable[[dict[str, Any]], str]:
    return lambda f: number(f[key], spec)


def _percent_row(
    label: str, key: str, sign: str = "", rank: Callable[[Any], float] | None = None
) -> Row:
    return Row(label, key, lambda f: percent(f[key], sign=sign), rank, percent_sign=sign)


def _excess(figures: dict[str, Any]) -> str:
    return excess_text(Headline.read(figures) or Headline())


def _day(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda f: str(f[key])[:10] if f[key] else MISSING


ROWS: tuple[Row, ...] = (
    Row("Verdict", "verdict", lambda f: f["verdict"] or MISSING, lambda v: _VERDICT_RANK[v]),
    Row("Sharpe", "sharpe_ratio", _shown("sharpe_ratio", "+.2f"), _up),
    _percent_row("Total return", "total_return", "+", _up),
    _percent_row("Max drawdown", "max_drawdown", rank=_down),
    _percent_row("Win rate", "win_rate", rank=_up),
    Row("Profit factor", "profit_factor", _shown("profit_factor", ".2f"), _up),
    Row("Trades", "trades", _shown("trades", ",.0f")),
    _percent_row("Exposure", "exposure"),
    _percent_row("B&H return", "benchmark_total_return", "+"),
    Row("B&H Sharpe", "benchmark_sharpe_ratio", _shown("benchmark_sharpe_ratio", "+.2f")),
    Row("Fold Sharpe", "validation_sharpe", _shown("validation_sharpe", "+.2f"), _up),
    Row("Deflated Sharpe", "deflated_sharpe", _shown("deflated_sharpe", ".2f"), _up),
    Row("Best of N", "trials", _shown("trials", ",.0f")),
    Row("PBO", "pbo", _shown("pbo", ".2f"), _down),
    Row("Holdout excess", "excess_return", _excess, _up),
    _percent_row("Val. accuracy", "val_accuracy", rank=_up),
    Row("Epochs", "training_epochs", _shown("training_epochs", ",.0f")),
    Row("Market", "symbol", lambda f: f["symbol"] or MISSING),
    Row("Test from", "start", _day("start")),
    Row("Test to", "end", _day("end")),
)
# Rows a table leaves out when no compared cycle has the figure (older or classic cycles).
_OPTIONAL = {"validation_sharpe", "deflated_sharpe", "trials", "pbo", "excess_return"}


def best_columns(row: Row, figures: Sequence[dict[str, Any]]) -> set[int]:
    """The columns holding ``row``'s best value among completed cycles: none when the row
    has no better side, fewer than two cycles have the figure, or they all tie (ties for the
    best share the mark, as the page's table does)."""
    if row.rank is None:
        return set()
    ranked: dict[int, float] = {}
    for column, f in enumerate(figures):
        value = f.get(row.key)
        if f["status"] == OperationStatus.COMPLETED.value and value is not None:
            try:
                ranked[column] = row.rank(value)
            except (KeyError, TypeError, ValueError):
                continue
    if len(ranked) < 2 or len(set(ranked.values())) == 1:
        return set()
    top = max(ranked.values())
    return {column for column, value in ranked.items() if value == top}


def best_of_rows(figures: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """For ``--json``: each cycle's row keys where it holds the best value."""
    marks: dict[str, list[str]] = {f["operation_id"]: [] for f in figures}
    for row in ROWS:
        for column in best_columns(row, figures):
            marks[figures[column]["operation_id"]].append(row.key)
    return marks


def _cell(row: Row, figures: dict[str, Any], best: bool, text: str | None = None) -> Text:
    if row.key == "verdict" and figures["status"] != OperationStatus.COMPLETED.value:
        where = f" ({figures['phase']})" if figures["phase"] else ""
        return Text(figures["status"] + where, style="dim")
    text = row.show(figures) if text is None else text
    style = _VERDICT_STYLE.get(text, "") if row.key == "verdict" else ""
    if best:
        return Text(f"{text} {BEST_MARK}", style="bold green")
    return Text(text, style=style)


def _header(index: int, cycle: ComparedCycle) -> Text:
    style = CYCLE_STYLES[index % len(CYCLE_STYLES)]
    head = Text(cycle.name, style=f"bold {style}")
    head.append(f"\n{index + 1} {cycle.short_id}", style=style)
    return head


def compare_table(
    cycles: Sequence[ComparedCycle],
    width: int = 250,
    figures: Sequence[dict[str, Any]] | None = None,
) -> Table:
    """One column per cycle (its number, strategy and short id in its chart colour), one
    row per figure; the best value of a row that has a better side carries ``BEST_MARK``.
    A column keeps room for a date when ``width`` allows it for every column."""
    if figures is None:
        figures = [compared_figures(c) for c in cycles]
    room = 10 if 17 + 13 * len(cycles) <= width else None
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("", no_wrap=True, style="bold")
    for index, cycle in enumerate(cycles):
        table.add_column(_header(index, cycle), justify="right", overflow="fold", min_width=room)
    for row in ROWS:
        if row.key in _OPTIONAL and all(f.get(row.key) is None for f in figures):
            continue
        best = best_columns(row, figures)
        texts: list[str | None] = [None] * len(figures)
        if row.percent_sign is not None:
            texts = list(percents([f[row.key] for f in figures], row.percent_sign))
        cells = (_cell(row, f, i in best, texts[i]) for i, f in enumerate(figures))
        table.add_row(row.label, *cells)
    return table


def compare_notes(cycles: Sequence[ComparedCycle]) -> list[Text]:
    """What a reader must know to read the table: the cycles not completed, the
    walk-forward ones, and curves that could not be read."""
    notes: list[Text] = []
    for index, cycle in enumerate(cycles):
        who = f"{index + 1} {cycle.label}"
        if cycle.op.status is OperationStatus.RUNNING or cycle.op.status is OperationStatus.PENDING:
            notes.append(
                Text(
                    f"{who} is still {cycle.op.status.value} "
                    f"({cycle.op.progress.percentage:.0f}%): its figures show once it completes.",
                    style="yellow",
                )
            )
        elif not cycle.done:
            notes.append(Text(f"{who} {cycle.op.status.value}: it has no figures.", style="red"))
        if cycle.walk_forward:
            notes.append(
                Text(
                    f"{who} is walk-forward: its figures are the chosen candidate's on the "
                    "holdout (out of sample), Fold Sharpe over every fold's test bars, "
                    "Holdout excess with its 95% interval.",
                    style="dim",
                )
            )
        if cycle.problem:
            notes.append(Text(f"{who}: {cycle.problem}", style="dim"))
    return notes


def compare_view(cycles: Sequence[ComparedCycle], width: int = 250) -> RenderableType:
    figures = [compared_figures(c) for c in cycles]  # once, for the table and its note
    parts: list[RenderableType] = [compare_table(cycles, width, figures)]
    notes = compare_notes(cycles)
    if any(best_columns(row, figures) for row in ROWS):
        notes.append(Text(f"{BEST_MARK} the best of the completed cycles in that row", "dim"))
    return Group(*parts, *notes)


def print_comparison(
    cycles: Sequence[ComparedCycle],
    picture: ComparePicture,
    *,
    base_url: str,
    no_color: bool,
    width: int | None,
    chart: bool,
) -> None:
    """The table and its notes, the curves (``chart``) ``width`` columns wide, and the
    page that shows the same comparison."""
    console = listing_console()
    if no_color:
        console.no_color = True
    console.print(compare_view(cycles, console.width))
    if chart and picture.drawn:
        console.print()
        columns = width or (console.width if console.is_terminal else CHART_PIPED_WIDTH)
        color = console.is_terminal and not no_color
        console.print(compare_chart(picture, columns, color=color), soft_wrap=True, crop=False)
    ids = ",".join(c.op.operation_id for c in cycles)
    console.print(Text(f"View: {base_url.rstrip('/')}/compare?ids={ids}", "cyan"), soft_wrap=True)
