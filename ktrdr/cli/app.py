"""The `ktrdr` command: one typer app joining one module per command group."""

from __future__ import annotations

import sys

import typer

from ktrdr import __version__
from ktrdr.cli import agent, backtest, data, model, ops, server
from ktrdr.cli.output import exit_code_for
from ktrdr.config import load_settings
from ktrdr.errors import KtrdrError

app = typer.Typer(
    name="ktrdr",
    help="ktrdr: design, train, backtest and assess trading strategies, and watch it happen.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(server.app, name="server")
app.add_typer(agent.app, name="agent")
app.add_typer(model.app, name="model")
app.add_typer(backtest.app, name="backtest")
app.add_typer(data.app, name="data")
app.add_typer(ops.app, name="ops")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ktrdr {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """ktrdr command line."""


def _debugging() -> bool:
    """KTRDR_DEBUG, read through the settings; invalid settings mean no debugging, since
    this runs while handling another error and must not raise one of its own."""
    try:
        return load_settings().debug
    except KtrdrError:
        return False


def main() -> None:
    """The console entry point. Commands turn ktrdr errors into one line themselves; this is
    the last line of defence, so that no input ever ends in a traceback for the user."""
    try:
        app()
    except KtrdrError as exc:
        sys.stderr.write(f"Error: {exc.message}\n")
        sys.exit(exit_code_for(exc))
    except Exception as exc:
        if _debugging():
            raise
        sys.stderr.write(
            f"Error: unexpected {type(exc).__name__}: {exc} "
            "(run again with KTRDR_DEBUG=1 to see the traceback)\n"
        )
        sys.exit(1)
