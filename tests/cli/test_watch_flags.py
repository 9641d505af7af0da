"""The watching options are declared once (``@watch_flags``) and reach a command whole,
with --on-interrupt resolved to that command's own default."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from ktrdr.cli.options import InterruptAction
from ktrdr.cli.watch_flags import WatchFlags, watch_flags


def _app(default: InterruptAction, seen: list[tuple[str, WatchFlags]]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @watch_flags(default)
    def look(name: str, *, flags: WatchFlags) -> None:
        seen.append((name, flags))

    return app


def test_defaults_follow_the_command_and_every_flag_arrives() -> None:
    seen: list[tuple[str, WatchFlags]] = []
    runner = CliRunner()
    assert runner.invoke(_app(InterruptAction.DETACH, seen), ["x"]).exit_code == 0
    assert seen[-1] == (
        "x",
        WatchFlags(False, False, "auto", False, InterruptAction.DETACH, False),
    )
    args = ["y", "--json", "--plain", "--progress", "json", "--notify", "--no-autostart"]
    started = _app(InterruptAction.CANCEL, seen)
    assert runner.invoke(started, [*args, "--on-interrupt", "detach"]).exit_code == 0
    assert seen[-1] == ("y", WatchFlags(True, True, "json", True, InterruptAction.DETACH, True))
    assert runner.invoke(started, ["z"]).exit_code == 0
    assert seen[-1][1].on_interrupt is InterruptAction.CANCEL


def test_a_bad_choice_is_a_usage_error() -> None:
    seen: list[tuple[str, WatchFlags]] = []
    result = CliRunner().invoke(_app(InterruptAction.CANCEL, seen), ["x", "--on-interrupt", "no"])
    assert result.exit_code == 2 and not seen
