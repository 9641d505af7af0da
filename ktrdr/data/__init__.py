"""Market data: the bundled sample series, CSV imports and the OHLCV rules every series obeys.

``ktrdr.data.market.MarketData`` is the one way in; engines receive ``ktrdr.data.bars.Bars``.
"""
