"""`ktrdr agent trigger --strategy FILE.yaml`: the real command against a real backend; the
file is read here and travels as the request's strategy, grid and walk_forward included."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ktrdr.strategies.loader import dump_strategy
from ktrdr.strategies.models import StrategyConfig
from tests.support.live_backend import LiveBackend, run_ktrdr

MINE = """\
walk_forward:
  folds: 2
  mode: rolling
grid:
  indicators.rsi.params.period: [7, 21]
"""


def ktrdr(backend: LiveBackend, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ktrdr(backend.env, *args, timeout=300)


def write_strategy(folder: Path, name: str, extra: str) -> Path:
    base = StrategyConfig.model_validate(
        {
            "name": name,
            "indicators": [{"name": "rsi", "type": "rsi", "params": {"period": 14}}],
            "model": {"hidden_layers": [8], "epochs": 8},
        }
    )
    path = folder / f"{name}.yaml"
    path.write_text(dump_strategy(base) + extra)
    return path


def test_a_local_strategy_file_starts_a_cycle_over_its_grid(
    backend: LiveBackend, tmp_path: Path
) -> None:
    path = write_strategy(tmp_path, "mine", MINE)
    # --anchored overrides the file's rolling windows; its folds still apply.
    proc = ktrdr(backend, "agent", "trigger", "--strategy", str(path), "--anchored", "-f", "--json")
    assert proc.returncode == 0, proc.stderr
    cycle = json.loads(proc.stdout)
    assert cycle["status"] == "completed", cycle.get("error_message")
    params = cycle["metadata"]["parameters"]
    assert (params["strategy"], params["designer"]) == ("mine", "given")
    assert (params["folds"], params["candidates"], params["walk_forward_mode"]) == (
        2,
        2,
        "anchored",
    )
    names = [c["strategy_name"] for c in cycle["result_summary"]["candidates"]]
    assert names == ["mine-g1", "mine-g2"]


def test_a_strategy_file_the_backend_refuses_is_one_clear_line(
    backend: LiveBackend, tmp_path: Path
) -> None:
    bad = write_strategy(tmp_path, "bad", "grid:\n  indicators.macd.params.fast: [5, 8]\n")
    proc = ktrdr(backend, "agent", "trigger", "--strategy", str(bad))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "indicators.macd.params.fast" in proc.stderr and "Traceback" not in proc.stderr

    mine = write_strategy(tmp_path, "mine", MINE)
    mismatch = ktrdr(backend, "agent", "trigger", "--strategy", str(mine), "--candidates", "3")
    assert mismatch.returncode == 2, (mismatch.stdout, mismatch.stderr)
    assert "makes 2 candidate(s)" in mismatch.stderr
