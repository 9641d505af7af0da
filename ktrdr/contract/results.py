"""Operation results on the wire, typed per kind: what ``result_summary`` holds for a
training, a backtest and a research cycle, and what a listing row's ``headline`` holds.

The records live in ``ktrdr.records`` (``results``, ``research``, ``summary``), below both
the service and listing projection that build them and this package: the domain may not
import the contract, nor the contract the domain. The API and the client read them from here.
Every reader returns None (or a record with None figures) for an old or odd row, never an
exception: the display shows a dash.
"""

from ktrdr.records.research import (
    CandidateRecord,
    CostCase,
    DeflatedSharpeRecord,
    FoldWindowRecord,
    IntervalRecord,
    OverfittingRecord,
    ResearchStatistics,
    WalkForwardRecord,
)
from ktrdr.records.results import (
    AnyResult,
    BacktestSummary,
    BenchmarkFigures,
    CycleBacktest,
    CycleTraining,
    EpochFigures,
    EquityCurve,
    OperationResult,
    ResearchCycleSummary,
    TradingMetrics,
    TrainingSummary,
    backtest_summary_of,
    research_cycle_summary_of,
    result_of,
    stopped_at_of,
    training_summary_of,
)
from ktrdr.records.summary import Headline, headline

__all__ = [
    "AnyResult",
    "BacktestSummary",
    "BenchmarkFigures",
    "CandidateRecord",
    "CostCase",
    "DeflatedSharpeRecord",
    "FoldWindowRecord",
    "IntervalRecord",
    "OverfittingRecord",
    "ResearchStatistics",
    "WalkForwardRecord",
    "CycleBacktest",
    "CycleTraining",
    "EpochFigures",
    "EquityCurve",
    "Headline",
    "OperationResult",
    "ResearchCycleSummary",
    "TradingMetrics",
    "TrainingSummary",
    "backtest_summary_of",
    "headline",
    "research_cycle_summary_of",
    "result_of",
    "stopped_at_of",
    "training_summary_of",
]
