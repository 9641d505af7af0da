"""The CLI starts light: building the command tree (what `--help` needs) loads typer and
ktrdr's command modules, not the domain, the client, the settings or numerical libraries.
Timing is a benchmark's job (benchmarks/cli_startup.py); this guards what makes it fast."""

from __future__ import annotations

import json
import subprocess
import sys

# Loaded only once a command runs: each of these costs tens to hundreds of milliseconds.
HEAVY = (
    "pydantic",
    "pydantic_settings",
    "httpx",
    "numpy",
    "pandas",
    "sklearn",
    "fastapi",
    "PIL",
    "ktrdr.config",
    "ktrdr.contract",
    "ktrdr.client",
    "ktrdr.cli.charts",
    "ktrdr.records.models",
    "ktrdr.operations.service",
    "ktrdr.agents.phases.machine",
)


def test_building_the_command_tree_loads_nothing_heavy() -> None:
    probe = "import json, sys\nimport ktrdr.cli.app\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout))
    assert "ktrdr.cli.commands.agent" in loaded  # the probe really built the command tree
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert not heavy, f"imported at CLI start: {heavy}"


def test_a_command_that_talks_to_the_backend_loads_no_numerical_library() -> None:
    """Every `ops`, `agent` or `model` command imports the client and the wire contract; the
    contract's strategy and walk-forward models must not pull numpy in (it cost each such
    command about a quarter of a second)."""
    probe = (
        "import json, sys\nimport ktrdr.cli.backend, ktrdr.client, ktrdr.contract.requests\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout))
    assert "ktrdr.strategies.models" in loaded  # the probe really reached the contract
    numerical = sorted(m for m in loaded if m.split(".")[0] in ("numpy", "pandas", "sklearn"))
    assert not numerical, f"imported by a backend command: {numerical[:5]}"
