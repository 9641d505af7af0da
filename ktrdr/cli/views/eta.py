"""How a research cycle's ETA reads in the terminal: ``ETA ~45 s``, ``ETA ~45 s (30 s–1 min)``,
``overdue``; and a batch's, the last of its running cycles to end.

The backend's figures are as of its answer; between answers they count down on the
follower's clock (``received_at`` and ``now`` are that clock's), so the text moves while a
long-poll is held. The bar's percentage is the phase table's and never changes for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ktrdr.client.follow import ViewState
from ktrdr.contract.operations import OperationPublic

OVERDUE = "overdue"


@dataclass(frozen=True)
class ShownEta:
    seconds: float
    low: float
    high: float


def approx(seconds: float) -> str:
    """An estimate at the precision it has: ``45 s``, ``3 min``, ``1 h 05 min``."""
    whole = max(0, round(seconds))
    if whole < 100:
        return f"{whole} s"
    minutes = round(whole / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def eta_of(op: OperationPublic, received_at: float = 0.0, now: float = 0.0) -> ShownEta | None:
    """The operation's ETA counted down to ``now``; None when it has none (or has ended)."""
    if op.eta_seconds is None or op.is_terminal:
        return None
    gone = max(0.0, now - received_at)
    low = op.eta_low if op.eta_low is not None else op.eta_seconds
    high = op.eta_high if op.eta_high is not None else op.eta_seconds
    return ShownEta(max(0.0, op.eta_seconds - gone), max(0.0, low - gone), max(0.0, high - gone))


def eta_text(
    op: OperationPublic, received_at: float = 0.0, now: float = 0.0, interval: bool = False
) -> str | None:
    """``ETA ~45 s`` (``interval``: with its 80 % range), ``overdue`` appended once the cycle
    has run longer than 9 in 10 comparable ones; None when there is nothing to say."""
    eta = eta_of(op, received_at, now)
    overdue = bool(op.overdue) and not op.is_terminal
    if eta is None:
        return OVERDUE if overdue else None
    text = f"ETA ~{approx(eta.seconds)}"
    if interval:
        text += f" ({_range(eta.low, eta.high)})"
    return f"{text}, {OVERDUE}" if overdue else text


def _range(low: float, high: float) -> str:
    """``30–60 s`` when both ends are in seconds, else ``50 s–2 min``."""
    if round(high) < 100:
        return f"{max(0, round(low))}–{round(high)} s"
    return f"{approx(low)}–{approx(high)}"


def batch_eta(states: Sequence[ViewState], now: float | None = None) -> float | None:
    """When the last running cycle of a batch should end: the longest of their ETAs, if
    every running cycle has one (one unknown leaves the batch's unknown). ``now`` None:
    as of each cycle's last answer."""
    running = [s for s in states if s.parent is not None and not s.parent.is_terminal]
    shown = [
        eta_of(s.parent, s.received_at, s.received_at if now is None else now)
        for s in running
        if s.parent is not None
    ]
    if not shown or any(eta is None for eta in shown):
        return None
    return max(eta.seconds for eta in shown if eta is not None)
