"""How long `ktrdr --help` takes, against a minimal typer app with the same libraries.

Whole processes, alternated in one run so machine noise hits both alike: the baseline is a
typer app with one sub-command group that imports typer and rich (what the ktrdr CLI shows
help with) and nothing else; then `ktrdr --help` and `ktrdr agent trigger --help`. The
figure is each one's median wall time over the baseline's (issue 12's goal: <= 1.3x).

    python -m benchmarks.cli_startup [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import median, save, table

MINIMAL_APP = '''
import typer
import rich.console  # typer renders help with rich

app = typer.Typer(no_args_is_help=True, add_completion=False)
group = typer.Typer()
app.add_typer(group, name="agent")


@group.command()
def trigger(seed: int = typer.Option(0, help="A seed.")) -> None:
    """Start a cycle."""


if __name__ == "__main__":
    app()
'''


def _wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()[:300]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = {**os.environ, "COLUMNS": "100", "KTRDR_DATA_DIR": tempfile.mkdtemp()}
    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal_app.py"
        minimal.write_text(MINIMAL_APP)
        commands = {
            "minimal typer app --help": [sys.executable, str(minimal), "--help"],
            "minimal agent trigger --help": [
                sys.executable,
                str(minimal),
                "agent",
                "trigger",
                "--help",
            ],
            "ktrdr --help": [sys.executable, "-m", "ktrdr", "--help"],
            "ktrdr agent trigger --help": [
                sys.executable,
                "-m",
                "ktrdr",
                "agent",
                "trigger",
                "--help",
            ],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():  # warm the file cache and bytecode once
            _wall(argv, env)
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(_wall(argv, env))
    # Each ktrdr command against the same command of the minimal app (a sub-command's help
    # makes typer load more of itself than the root's does).
    baseline_of = {
        "ktrdr --help": "minimal typer app --help",
        "ktrdr agent trigger --help": "minimal agent trigger --help",
    }
    results = {}
    rows = []
    for name, values in times.items():
        ratio = median(values) / median(times[baseline_of.get(name, name)])
        results[name] = {"median_s": median(values), "ratio": ratio}
        rows.append((name, f"{median(values) * 1000:.0f} ms  ({ratio:.2f}x)"))
    table(rows)
    print("goal: ktrdr <= 1.30x the minimal app")
    save("cli_startup", results)


if __name__ == "__main__":
    main()
