"""`--help` of every ktrdr command, as a new user reads it: flags show no `<bool>`, usage
lines name arguments plainly (`MODEL`, not `{model}`), and every option says what it does."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from ktrdr.cli.app import app


def _command_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = [()]
    pending: list[tuple[tuple[str, ...], object]] = [((), typer.main.get_command(app))]
    while pending:
        path, command = pending.pop()
        for name, sub in getattr(command, "commands", {}).items():
            paths.append((*path, name))
            pending.append(((*path, name), sub))
    return sorted(paths)


PATHS = _command_paths()


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_walk_finds_every_group_and_some_commands() -> None:
    # Guards the parametrisation below: an empty walk would make it pass vacuously.
    assert {("model", "train"), ("backtest", "run"), ("server", "stop"), ("ops",)} <= set(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "ktrdr")
def test_help_shows_no_bool_metavar_and_no_braces(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "<bool>" not in text
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage, usage


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "ktrdr")
def test_every_option_has_a_description(path: tuple[str, ...]) -> None:
    text = _help(path)
    for line in text.splitlines():
        # An option row: `│ --name   [<type>]   description │`; a continuation row has no
        # option name, so any row with a name must carry words after its type column.
        match = re.match(
            r"│\s+(--[a-z-]+)(?:,\s*-\w)?\s*(?:<[^>]*>|[A-Z|]{2,}(?=\s))?\s*(.*?)\s*│$", line
        )
        if match:
            assert re.search(r"[A-Za-z]{2,}", match.group(2)), f"{match.group(1)}: {line}"


def test_named_options_describe_themselves() -> None:
    backtest = _help(("backtest", "run"))
    for words in ("Bar size", "First day to test", "Last day to test", "Commission, a frac"):
        assert words in backtest
    assert "Slippage, a fraction" in backtest
    train = _help(("model", "train"))
    assert "First day of training data" in train and "Last day of training data" in train


def test_a_required_argument_reads_as_its_name_in_usage() -> None:
    assert "Usage: ktrdr backtest run [OPTIONS] MODEL" in _help(("backtest", "run"))
