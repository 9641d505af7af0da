"""ktrdr: trading-strategy research cycles as watchable, cancellable operations."""

__version__ = "0.1.0"
