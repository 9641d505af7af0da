"""The `ktrdr` command: one typer app joining one module per command group."""

from __future__ import annotations

import select
import sys

import typer

from ktrdr import __version__
from ktrdr.cli.commands import agent, backtest, data, model, ops, server, strategy
from ktrdr.cli.help_format import TidyHelpGroup
from ktrdr.cli.output import exit_code_for, reader_went_away, terminal_safe
from ktrdr.errors import KtrdrError

app = typer.Typer(
    name="ktrdr",
    cls=TidyHelpGroup,
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
app.add_typer(strategy.app, name="strategy")


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
    from ktrdr.config import load_settings

    try:
        return load_settings().debug
    except KtrdrError:
        return False


def _stdout_reader_gone() -> bool:
    """Whether standard output is a pipe whose reading end was closed (poll reports an
    error condition on it; a terminal or a file never does)."""
    try:
        poller = select.poll()
        poller.register(sys.__stdout__.fileno() if sys.__stdout__ else 1, select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() here, or no usable stdout
        return False


def main() -> None:
    """The console entry point. Commands turn ktrdr errors into one line themselves; this is
    the last line of defence, so that no input ever ends in a traceback for the user."""
    try:
        try:
            app()
        finally:
            sys.stdout.flush()  # a closed pipe shows up here, while it can still be handled
    except BrokenPipeError:
        reader_went_away()
    except SystemExit as exc:
        # click catches EPIPE itself, swaps in a stdout that ignores it and exits 1; that
        # is the reader's doing, not an error. A failure with the reader still there is.
        if exc.code not in (0, None) and sys.stdout is not sys.__stdout__:
            if _stdout_reader_gone():
                reader_went_away()
        raise
    except KtrdrError as exc:
        sys.stderr.write(f"Error: {terminal_safe(exc.message)}\n")
        sys.exit(exit_code_for(exc))
    except Exception as exc:
        if _debugging():
            raise
        sys.stderr.write(
            f"Error: unexpected {type(exc).__name__}: {terminal_safe(str(exc))} "
            "(run again with KTRDR_DEBUG=1 to see the traceback)\n"
        )
        sys.exit(1)
