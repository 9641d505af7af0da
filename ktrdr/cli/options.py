"""Options shared by several command groups."""

from __future__ import annotations

from typing import Annotated

import typer

NoAutostart = Annotated[
    bool,
    typer.Option(
        "--no-autostart",
        help="Never start a local backend; fail if none answers (also KTRDR_AUTOSTART=0).",
    ),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
