"""The Renderer seam: the monitor session drives whichever renderer it is given, and the
choice of renderer follows the output mode, the terminal and NO_COLOR.

The backend is an in-process httpx transport, so the session, follower and client are the
real ones; only the network is replaced."""

from __future__ import annotations

import asyncio
import io
import json

import httpx
from rich.console import Console

from ktrdr.cli.monitor import MonitorSession
from ktrdr.cli.output import EXIT_FAILED, EXIT_OK
from ktrdr.cli.views import JsonRenderer, LiveRenderer, PlainRenderer, Renderer, renderer_for
from ktrdr.contract.operations import Envelope, TreePublic
from tests.support.snapshots import snapshot


class TrainingThatFinishes:
    """Answers a running training on the first tree request and the completed one afterwards."""

    def __init__(self) -> None:
        self.running = snapshot("t1", op_type="training", pct=40, step="Epoch 4/10", version=1)
        self.done = snapshot(
            "t1",
            op_type="training",
            status="completed",
            pct=100,
            step="Epoch 10/10",
            version=2,
            summary={"epochs_completed": 10, "epochs_total": 10, "model_path": "/m/t1"},
        )
        self.polls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/tree")  # the monitor follows the tree
        self.polls += 1
        op = self.running if self.polls == 1 else self.done
        tree = TreePublic(version=op.version, complete=True, changes=[], operations=[op])
        return httpx.Response(200, json=Envelope[TreePublic](data=tree).model_dump(mode="json"))


def follow(renderer: Renderer, handler: httpx.MockTransport, operation_id: str = "t1") -> int:
    session = MonitorSession("http://ktrdr.test", operation_id, renderer, transport=handler)
    return asyncio.run(session.run())


def test_json_mode_prints_nothing_while_following_then_only_the_final_operation() -> None:
    backend = TrainingThatFinishes()
    out, err = io.StringIO(), io.StringIO()
    code = follow(JsonRenderer(out=out, err=err), httpx.MockTransport(backend))
    assert code == EXIT_OK
    assert backend.polls >= 2  # it did see the running snapshot first
    printed = json.loads(out.getvalue())  # one JSON document and nothing else
    assert printed == backend.done.model_dump(mode="json")
    assert printed["status"] == "completed"
    assert err.getvalue() == ""


def test_json_mode_says_why_on_stderr_when_there_is_no_operation_to_print() -> None:
    def not_found(request: httpx.Request) -> httpx.Response:
        error = {"code": "operation_not_found", "message": "no such operation", "details": {}}
        return httpx.Response(404, json={"success": False, "error": error})

    out, err = io.StringIO(), io.StringIO()
    code = follow(JsonRenderer(out=out, err=err), httpx.MockTransport(not_found), "op_gone")
    assert code == EXIT_FAILED
    assert out.getvalue() == ""
    assert err.getvalue() == "Operation not found — may have been lost due to restart\n"


def test_the_same_session_drives_the_plain_renderer() -> None:
    backend = TrainingThatFinishes()
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    code = follow(PlainRenderer(console), httpx.MockTransport(backend))
    assert code == EXIT_OK
    lines = out.getvalue().splitlines()
    assert lines[0] == "Training t1: running"
    assert "  Epoch 4/10 (40%)" in lines
    assert lines[-4:-1] == [
        "✓ Training complete!",
        "Epochs: 10/10 | Val accuracy: - | Val loss: -",
        "Model: /m/t1",
    ]
    assert lines[-1].startswith("View: ") and lines[-1].endswith("/operations/t1")


def console(*, terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, color_system=None)


def test_auto_output_is_live_on_a_terminal_and_plain_elsewhere_or_with_no_color() -> None:
    assert isinstance(
        renderer_for("auto", no_color="", console=console(terminal=True)), LiveRenderer
    )
    assert isinstance(
        renderer_for("auto", no_color="1", console=console(terminal=True)), PlainRenderer
    )
    assert isinstance(
        renderer_for("auto", no_color="", console=console(terminal=False)), PlainRenderer
    )


def test_an_explicit_output_wins_over_the_terminal() -> None:
    assert isinstance(
        renderer_for("live", no_color="1", console=console(terminal=False)), LiveRenderer
    )
    assert isinstance(
        renderer_for("plain", no_color="", console=console(terminal=True)), PlainRenderer
    )
    assert isinstance(
        renderer_for("json", no_color="", console=console(terminal=True)), JsonRenderer
    )
