"""The application layer: the one place that turns a request into operations and runs them.

Routes, the research cycle's child launcher and the CLI's local paths all come through
here; the engine packages (``training``, ``backtesting``) only know how to do the work.
"""
