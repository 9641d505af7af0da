"""End to end: the default `ktrdr agent trigger -f` (a walk-forward cycle: candidates ×
folds as children running at once) in a real pseudo-terminal against a real backend:
several child lines at once under the cycle's bar, then the summary with the statistics
that count every try."""

from __future__ import annotations

import re

import pexpect
import pytest

from ktrdr.records.models import OperationStatus
from tests.e2e.test_agent_monitor_e2e import (
    finish,
    latest_cycle,
    screen_text,
    spawn_ktrdr,
    terminal_children,
)
from tests.support.live_backend import LiveBackend

pytestmark = pytest.mark.e2e
__all__ = ["terminal_children"]  # the fixture, shared with the single-cycle tests

# Two child lines, one right under the other (whatever the terminal codes between them).
TWO_CHILD_LINES = re.compile(r"└─ (Training|Backtest) c\d[^└\n]*\n[^└\n]{0,40}└─ ")


def test_the_default_cycle_shows_its_folds_at_once_then_the_evidence(
    backend: LiveBackend, terminal_children: list[pexpect.spawn]
) -> None:
    child = spawn_ktrdr(backend, "agent", "trigger", "-f", "--seed", "12", timeout=180)
    terminal_children.append(child)
    child.expect("Research Cycle")
    child.expect(TWO_CHILD_LINES)
    child.expect(r"\d+ done · \d+ waiting")
    child.expect("Research cycle complete!")
    child.expect(r"Deflated Sharpe: \d\.\d\d \(best of 4 tries\)")
    # An estimate and its interval share their decimals (one when any is under 10 %).
    child.expect(r"Holdout vs buy & hold: [+-][\d.]+% \[[+-][\d.]+%, [+-][\d.]+%\]")
    child.expect(r"Walk-forward: 4 anchored folds")
    assert finish(child) == 0
    shown = screen_text(child)
    assert "Traceback" not in shown
    with backend.client() as client:
        cycle = client.get_operation(latest_cycle(client))
    assert cycle.status is OperationStatus.COMPLETED
    summary = cycle.result_summary or {}
    assert summary["verdict"] in shown
    assert len(summary["candidates"]) == 4 and len(summary["walk_forward"]["folds"]) == 4
