"""While the backend does not answer, the figures do not wander: the child's ETA stays as
last known, and the give-up line names the give-up time, not the few seconds the last try
overran it. The session runs against an in-process stand-in that answers once, then fails
every request slowly (as a dead host's connect timeouts do)."""

from __future__ import annotations

import asyncio
import io
import re

import httpx
from rich.console import Console

from ktrdr.cli.monitor import MonitorSession
from ktrdr.cli.output import EXIT_FAILED
from ktrdr.cli.views import PlainRenderer
from ktrdr.cli.views.live import monitor_view
from ktrdr.client.follow import Connection, ViewState
from ktrdr.contract.operations import Envelope, OperationPublic, TreePublic
from ktrdr.records.models import OperationProgress, OperationStatus, OperationType

CYCLE = "op_agent_research_20260101_000000_aaaa1111"


def running(op_id: str, kind: OperationType, pct: float, **fields: object) -> OperationPublic:
    return OperationPublic(
        operation_id=op_id,
        operation_type=kind,
        status=OperationStatus.RUNNING,
        progress=OperationProgress(percentage=pct, current_step=fields.pop("step", None)),
        **fields,
    )


class GoesAway:
    """One tree, then every request fails after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.answered = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.answered:
            self.answered = True
            op = running(CYCLE, OperationType.AGENT_RESEARCH, 20.0, elapsed_seconds=5.0)
            tree = TreePublic(version=op.version, complete=True, changes=[], operations=[op])
            return httpx.Response(200, json=Envelope[TreePublic](data=tree).model_dump(mode="json"))
        await asyncio.sleep(self.delay)
        raise httpx.ConnectError("connection refused", request=request)


def test_the_give_up_line_names_the_give_up_time() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False, color_system=None)
    session = MonitorSession(
        "http://ktrdr.test",
        CYCLE,
        PlainRenderer(console),
        give_up_after=1.0,
        transport=httpx.MockTransport(GoesAway(delay=1.6)),
    )
    code = asyncio.run(session.run())
    assert code == EXIT_FAILED
    assert session.state.gave_up and session.state.connection.down_for > 1.5  # it overran
    said = re.search(r"has not answered for (\d+) s\.", out.getvalue())
    assert said is not None, out.getvalue()
    assert said.group(1) == "1"


def _child_eta(text: str) -> str:
    found = re.search(r"└─ .*ETA (\S+)", text)
    assert found is not None, text
    return found.group(1)


def _render(state: ViewState, now: float) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(monitor_view(state, now))
    return str(console.file.getvalue())  # type: ignore[attr-defined]


def test_the_childs_eta_freezes_while_the_connection_is_lost() -> None:
    parent = running(CYCLE, OperationType.AGENT_RESEARCH, 20.0, elapsed_seconds=60.0)
    child = running(
        "op_training_20260101_000000_bbbb2222",
        OperationType.TRAINING,
        10.0,
        step="Epoch 10/100",
        elapsed_seconds=60.0,
    )
    connected = ViewState(CYCLE, parent=parent, child=child, phase="training", received_at=0.0)
    lost = ViewState(
        CYCLE,
        parent=parent,
        child=child,
        phase="training",
        received_at=0.0,
        connection=Connection(ok=False, attempts=3, down_for=15.0),
    )
    # Connected, the estimate follows the clock (10%: 9 s more per second).
    assert _child_eta(_render(connected, 0.0)) == "09:00"
    assert _child_eta(_render(connected, 15.0)) == "11:15"
    # Lost, 15 s and 1 h later: the estimate as last known, while the elapsed clock runs.
    assert _child_eta(_render(lost, 15.0)) == "09:00"
    assert _child_eta(_render(lost, 3600.0)) == "09:00"
    assert "1:01:00" in _render(lost, 3600.0)
