"""`ktrdr model list` in the order models were made, under a header; refusals that tell a
CLI user the next step (`model train NAME`) and not the API's vocabulary. Real backend."""

from __future__ import annotations

import json
import subprocess

from tests.support.live_backend import LiveBackend, run_ktrdr


def _run(backend: LiveBackend, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ktrdr(backend.env, *args, timeout=120)


def _one_error_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    return lines[0]


def _train(backend: LiveBackend, strategy: str) -> None:
    done = _run(backend, "model", "train", strategy, "--epochs", "2", "--json")
    assert done.returncode == 0, done.stderr


def test_model_list_is_oldest_first_across_strategies_under_a_header(
    backend: LiveBackend,
) -> None:
    # Alphabetical order would put rsi_mean_reversion first; it was trained second.
    for strategy in ("trend_momentum", "rsi_mean_reversion", "trend_momentum"):
        _train(backend, strategy)
    listed = _run(backend, "model", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.strip().splitlines()
    assert header.split() == ["STRATEGY", "#", "CREATED", "PATH"]
    assert [row.split()[:2] for row in rows] == [
        ["trend_momentum", "1"],
        ["rsi_mean_reversion", "1"],
        ["trend_momentum", "2"],
    ]
    created = [row.split()[2] for row in rows]
    assert created == sorted(created)
    as_json = json.loads(_run(backend, "model", "list", "--json").stdout)
    assert sorted(m["path"] for m in as_json) == sorted(row.split()[3] for row in rows)


def test_backtest_without_a_model_suggests_training_one(backend: LiveBackend) -> None:
    line = _one_error_line(_run(backend, "backtest", "run", "rsi_mean_reversion", "--plain"), 2)
    assert "no model of 'rsi_mean_reversion'" in line and "none is trained" in line
    assert line.endswith("train one first: ktrdr model train rsi_mean_reversion")
    # A path names no strategy to train: the backend's own words stay.
    by_path = _one_error_line(_run(backend, "backtest", "run", "some/dir", "--plain"), 2)
    assert "model train" not in by_path


def test_an_unknown_strategy_is_one_plain_line(backend: LiveBackend) -> None:
    line = _one_error_line(_run(backend, "model", "train", "no_such", "--plain"), 2)
    assert "strategy_config" not in line
    assert line.startswith("Error: no strategy named 'no_such'.")
    for named in ("rsi_mean_reversion", "ktrdr model examples", "strategies folder", ".yaml"):
        assert named in line
