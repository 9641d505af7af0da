"""`ktrdr data ...`: the market data ktrdr can research (bundled and imported)."""

from __future__ import annotations

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
    timeframe: Annotated[str, typer.Option()] = "1d",
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
    """Import your own OHLCV CSV (validated whole; nothing is half-imported)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", EXIT_USAGE)
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
