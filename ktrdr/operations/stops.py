"""How a stopped job is described: the one place the "Training stopped at ..." sentence lives.

The research worker records it as where a cancelled cycle stopped; the follower uses it to
say where a single job stopped.
"""

from __future__ import annotations


def stopped_sentence(label: str, where: str) -> str:
    """``label`` ("Training", "Backtest") and where it stopped ("Epoch 67/100", "before it
    started") as one sentence without a final period: "Training stopped at epoch 67/100"."""
    where = where.strip().rstrip(".")
    if not where:
        return f"{label} stopped"
    if where.startswith("before"):
        return f"{label} stopped {where}"
    return f"{label} stopped at {where[:1].lower()}{where[1:]}"
