"""Backtesting: replay a position series over bars and measure how it did."""

from ktrdr.backtesting.engine import BacktestResult, TradeLog, run_backtest
from ktrdr.backtesting.metrics import compute_metrics

__all__ = ["BacktestResult", "TradeLog", "compute_metrics", "run_backtest"]
