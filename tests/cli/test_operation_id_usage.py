"""A malformed operation id is a usage error (exit 2) for every command that takes one, as
the README's exit-code table promises; a well-formed unknown one stays "not found" (exit 1).
No backend is needed for the first: the id is refused before any request."""

from __future__ import annotations

import pytest

from tests.support.live_backend import env_without_ktrdr, free_port, run_ktrdr

COMMANDS = [
    ("ops", "follow"),
    ("ops", "show"),
    ("ops", "cancel"),
    ("ops", "wait"),
    ("backtest", "show"),
    ("agent", "strategy"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_bare_word_is_not_an_operation_id(command: tuple[str, str]) -> None:
    # Nothing listens on this port and autostart is off: only the id check can answer.
    env = env_without_ktrdr(KTRDR_PORT=str(free_port()), KTRDR_AUTOSTART="0")
    proc = run_ktrdr(env, *command, "bogus")
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "not an operation id" in proc.stderr and "bogus" not in proc.stderr


def test_a_well_formed_unknown_id_still_reaches_the_backend() -> None:
    env = env_without_ktrdr(KTRDR_PORT=str(free_port()), KTRDR_AUTOSTART="0")
    proc = run_ktrdr(env, "ops", "show", "op_training_20250101_120000_1a2b3c4d")
    assert proc.returncode == 1 and "No ktrdr backend answers" in proc.stderr, proc.stderr
