"""Runs inside benchmarks/.venv-backtesting: the same SMA crossover in backtesting.py.

Prints one JSON line: seconds, trades, final_equity. Not part of ktrdr (no ktrdr imports).
"""

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy

warnings.filterwarnings("ignore")


def sma(values, n):
    return pd.Series(values).rolling(n).mean().to_numpy()


def main():
    path, fast, slow, commission = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    raw = np.load(path)
    frame = pd.DataFrame(
        {"Open": raw["o"], "High": raw["h"], "Low": raw["l"], "Close": raw["c"], "Volume": raw["v"]},
        index=pd.to_datetime(raw["t"], unit="s"),
    )

    class SmaCross(Strategy):
        def init(self):
            self.fast = self.I(sma, self.data.Close, fast)
            self.slow = self.I(sma, self.data.Close, slow)

        def next(self):
            if self.fast[-1] > self.slow[-1]:
                if not self.position:
                    self.buy()
            elif self.position:
                self.position.close()

    start = time.perf_counter()
    bt = Backtest(frame, SmaCross, cash=1e12, commission=commission, trade_on_close=True,
                  finalize_trades=True)
    stats = bt.run()
    seconds = time.perf_counter() - start
    equity = float(stats["Equity Final [$]"]) / 1e12 * 100_000
    print(json.dumps({"seconds": seconds, "trades": int(stats["# Trades"]), "final_equity": equity}))


if __name__ == "__main__":
    main()
