"""`ktrdr data ...`: the market data ktrdr can research (bundled and imported)."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ktrdr.cli.options import JsonOutput, NoAutostart
from ktrdr.cli.output import EXIT_USAGE, ask, echo, fail, friendly_errors, print_json

app = typer.Typer(help="List, inspect and import market data.", no_args_is_help=True)


@app.command("list")
def list_series(json_out: JsonOutput = False, no_autostart: NoAutostart = False) -> None:
    """List the available series."""
    series = ask(no_autostart, lambda client: client.list_series())
    if json_out:
        print_json([s.model_dump(mode="json") for s in series])
        return
    echo(f"{'SYMBOL':<12} {'TF':<5} {'BARS':>7}  {'FIRST':<19}  {'LAST':<19}  SOURCE")
    for s in series:
        echo(
            f"{s.symbol:<12} {s.timeframe:<5} {s.bars:>7,}  {s.first[:19]:<19}  "
            f"{s.last[:19]:<19}  {s.source}"
        )


@app.command("show")
def show(
    symbol: str,
    timeframe: Annotated[str, typer.Option(help="Bar size: 1d, 1h, 5m, 1w ...")] = "1d",
    tail: Annotated[int, typer.Option(min=0, max=1000, help="Recent bars to show.")] = 10,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last day (inclusive), YYYY-MM-DD.")] = None,
    json_out: JsonOutput = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Show a series: its span, and the last bars and stats of a date range (default: all)."""
    days: dict[str, date | None] = {"start": None, "end": None}
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            try:
                days[name] = date.fromisoformat(value)
            except ValueError:
                fail(f"--{name} {value!r} is not a date (YYYY-MM-DD)", EXIT_USAGE)
    detail = ask(
        no_autostart,
        lambda client: client.show_series(
            symbol, timeframe=timeframe, tail=tail, start=days["start"], end=days["end"]
        ),
    )
    if json_out:
        print_json(detail.model_dump(mode="json"))
        return
    change = detail.change_1y
    echo(
        f"{detail.symbol} {detail.timeframe} ({detail.source}): {detail.bars:,} bars "
        f"from {detail.first[:10]} to {detail.last[:10]}; last close "
        f"{detail.last_close:,.2f}"
        + (f", {change:+.1%} over the last year" if change is not None else "")
    )
    chosen = detail.selected
    if chosen and (start or end):
        echo(
            f"Selected {chosen.first[:10]} to {chosen.last[:10]}: {chosen.bars:,} bars, "
            f"{chosen.change:+.1%} close to close, range {chosen.low:,.2f}-{chosen.high:,.2f}"
        )
    for bar in detail.recent:
        echo(
            f"  {bar.timestamp[:19]}  O {bar.open:>10,.2f}  H {bar.high:>10,.2f}  "
            f"L {bar.low:>10,.2f}  C {bar.close:>10,.2f}  V {bar.volume:>14,.0f}"
        )


@app.command("import")
def import_csv(
    file: Path,
    symbol: Annotated[str, typer.Option(help="Name to store it under.")],
    timeframe: Annotated[str, typer.Option(help="Bar size: 1d, 1h, 5m, 1w ...")],
    json_out: JsonOutput = False,
    no_autostart: NoAutostart = False,
) -> None:
    """Import your own OHLCV CSV (validated whole; nothing is half-imported). Only a regular
    file within the backend's import limit (KTRDR_MAX_IMPORT_BYTES) is read."""
    text = _read_import(file)
    with friendly_errors():
        from ktrdr.cli.backend import client_for
        from ktrdr.contract.requests import DataImportRequest, checked

        request = checked(
            DataImportRequest,
            symbol=symbol,
            timeframe=timeframe,
            csv_text=text,
            filename=file.name,
        )
        with client_for(no_autostart) as client:
            info = client.import_series(request)
    if json_out:
        print_json(info.model_dump(mode="json"))
        return
    echo(
        f"Imported {info.symbol} {info.timeframe}: {info.bars:,} bars "
        f"({info.first[:10]} to {info.last[:10]})"
    )


# --- looking before reading -----------------------------------------------------------------

_KINDS = (
    (stat.S_ISDIR, "folder"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def _size(count: int) -> str:
    """A byte count as people read it: 2.0 KiB, 50.0 MiB, 10.0 GiB."""
    if count < 1024:
        return f"{count} bytes"
    value = count / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _import_problem(file: Path, info: os.stat_result, limit: int) -> str | None:
    """Why ``file`` (as ``info`` describes it) cannot be imported, or None."""
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "special file")
        return f"{file} is not a regular file (it is a {kind}); import a CSV file"
    if info.st_size > limit:
        return (
            f"{file} is {_size(info.st_size)}; the backend takes imports of at most "
            f"{_size(limit)} (KTRDR_MAX_IMPORT_BYTES)"
        )
    return None


def _read_import(file: Path) -> str:
    """The file's text, read only once it is known to be a regular file within the import
    limit: a FIFO would block the read for ever, /dev/zero never ends, and a file over the
    limit would be read whole only for the backend to refuse it."""
    with friendly_errors():
        from ktrdr.config import load_settings

        limit = load_settings().max_import_bytes
    text = ""
    try:
        problem = _import_problem(file, file.stat(), limit)
        if problem is None:
            problem, text = _read_opened(file, limit)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        fail(f"cannot read {file}: {reason}", EXIT_USAGE)
    if problem is not None:
        fail(problem, EXIT_USAGE)
    return text


def _read_opened(file: Path, limit: int) -> tuple[str | None, str]:
    """(why not, "") or (None, the text): looked at again once open, since the path may
    have been swapped after the first look; opened without blocking for the same reason."""
    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    with open(fd, encoding="utf-8") as handle:  # text mode: newlines read as read_text does
        problem = _import_problem(file, os.fstat(fd), limit)
        if problem is not None:
            return problem, ""
        text = handle.read(limit + 1)  # bounded, should the file grow meanwhile
    if len(text) > limit:
        return f"{file} grew past the import limit while it was read", ""
    return None, text
