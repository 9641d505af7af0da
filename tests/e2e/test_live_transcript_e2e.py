"""The live monitor's transcript read off a tmux pane: the real `ktrdr agent trigger
--monitor` against a real backend. A blank line separates the command from the first bar,
and after Ctrl+C the last frame keeps the child's bar and the cycle's step as they were
shown (no `Phase:` prefix appears), above the cancel notice and the cancelled line."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e import test_watch_screen_e2e as screen
from tests.e2e.test_watch_screen_e2e import TmuxPane, index_of, open_pane
from tests.support.live_backend import LiveBackend

pytestmark = screen.pytestmark  # e2e, and skipped (saying why) without tmux
panes = screen.panes  # the fixture: one tmux pane per command, closed after the test
# A classic cycle whose training runs long enough to be interrupted.
TRIGGER = ("agent", "trigger", "--monitor", "--folds", "0", "--seed", "3", "--epochs", "4000")


def test_a_blank_line_before_the_bar_and_ctrl_c_keeps_the_last_frame(
    backend: LiveBackend, panes: list[TmuxPane], tmp_path: Path
) -> None:
    """Item 3 of "What a researcher sees": the seed's transcript, blank line and all."""
    pane = open_pane(panes, tmp_path, backend, *TRIGGER)
    pane.wait_for(r"└─ Epoch [\d,]+/4,000")
    pane.ctrl_c()
    pane.wait_for(r"Cancelled\. Training stopped at epoch [\d,]+/4,000\.")
    assert pane.exit_code() == 130
    lines = pane.screen()
    bar = index_of(lines, r"🔬 Research Cycle \[")
    assert bar == 1 and lines[0] == "", lines[: bar + 1]  # the pane opens with the command
    assert lines[bar + 1] == "   Training model...", lines[bar + 1]
    assert re.match(r"   └─ Epoch [\d,]+/4,000 \[\d+%\]", lines[bar + 2]), lines[bar + 2]
    assert not any(line.lstrip().startswith("Phase:") for line in lines), lines
    done = index_of(lines, r"✓ Cancelled\.")
    assert lines[done - 1] == "⚠ Cancelling research cycle..."
