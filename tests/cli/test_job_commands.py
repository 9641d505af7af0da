"""The real `ktrdr` command (subprocess) against a real backend: jobs, data and the agent."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.live_backend import LiveBackend, run_ktrdr


def ktrdr(
    backend: LiveBackend, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return run_ktrdr(backend.env, *args, timeout=timeout)


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert needle in proc.stderr, proc.stderr


def test_model_train_then_backtest_run_show_progress_and_summaries(backend: LiveBackend) -> None:
    train = ktrdr(backend, "model", "train", "rsi_mean_reversion", "--epochs", "30")
    assert train.returncode == 0, train.stderr
    assert "Epoch " in train.stdout  # plain mode: a line per 10 % of the epochs
    assert "✓ Training complete!" in train.stdout
    assert "Epochs: 30/30" in train.stdout

    backtest = ktrdr(backend, "backtest", "run", "rsi_mean_reversion")
    assert backtest.returncode == 0, backtest.stderr
    assert "✓ Backtest complete!" in backtest.stdout
    assert "Sharpe: " in backtest.stdout and "Trades: " in backtest.stdout

    as_json = ktrdr(backend, "backtest", "run", "rsi_mean_reversion", "--json")
    assert as_json.returncode == 0, as_json.stderr
    op = json.loads(as_json.stdout)
    assert op["status"] == "completed" and op["operation_type"] == "backtesting"

    models = ktrdr(backend, "model", "list", "--json")
    assert [m["name"] for m in json.loads(models.stdout)] == ["rsi_mean_reversion"]


def test_training_a_local_strategy_file(backend: LiveBackend, tmp_path: Path) -> None:
    from ktrdr.strategies.loader import dump_strategy, load_strategy

    mine = load_strategy("trend_momentum").model_copy(update={"name": "my_trend"})
    path = tmp_path / "my_trend.yaml"
    path.write_text(dump_strategy(mine))
    proc = ktrdr(backend, "model", "train", str(path), "--epochs", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result_summary"]["strategy_name"] == "my_trend"


def test_bad_job_input_is_one_clear_line(backend: LiveBackend, tmp_path: Path) -> None:
    assert_clean_error(ktrdr(backend, "model", "train", "no_such_strategy"), 2, "Error:")
    assert_clean_error(ktrdr(backend, "backtest", "run", "never_trained"), 2, "never_trained")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nindicators: []\n")
    assert_clean_error(ktrdr(backend, "model", "train", str(bad)), 2, "indicators")
    assert_clean_error(ktrdr(backend, "agent", "trigger", "-m", "gpt5"), 2, "unknown model")
    assert_clean_error(ktrdr(backend, "agent", "trigger", "-m", "haiku"), 1, "ANTHROPIC_API_KEY")


def test_data_list_show_and_import(backend: LiveBackend, tmp_path: Path) -> None:
    listed = ktrdr(backend, "data", "list", "--json")
    assert {(s["symbol"], s["timeframe"]) for s in json.loads(listed.stdout)} == {
        ("NASDAQ", "1d"),
        ("SP500", "1d"),
    }
    shown = ktrdr(backend, "data", "show", "sp500", "--tail", "3")
    assert shown.returncode == 0, shown.stderr
    assert "SP500 1d (bundled)" in shown.stdout and "2018-12-31" in shown.stdout
    ranged = ktrdr(
        backend, "data", "show", "SP500", "--start", "2008-01-01", "--end", "2008-12-31", "--json"
    )
    chosen = json.loads(ranged.stdout)["selected"]
    assert (chosen["first"][:10], chosen["last"][:10], chosen["bars"]) == (
        "2008-01-02",
        "2008-12-31",
        253,
    )
    assert -0.40 < chosen["change"] < -0.35  # 2008, close to close
    assert json.loads(ranged.stdout)["recent"][-1]["timestamp"].startswith("2008-12-31")
    assert_clean_error(ktrdr(backend, "data", "show", "SP500", "--start", "2008-13-01"), 2, "date")
    assert_clean_error(ktrdr(backend, "data", "show", "SP500", "--start", "2030-01-01"), 2, "spans")

    good = tmp_path / "mine.csv"
    good.write_text(
        "date,open,high,low,close,volume\n"
        "2024-01-02,10,11,9.5,10.5,100\n"
        "2024-01-03,10.5,11.2,10.1,11,120\n"
    )
    imported = ktrdr(backend, "data", "import", str(good), "--symbol", "MINE", "--timeframe", "1d")
    assert imported.returncode == 0, imported.stderr
    assert "Imported MINE 1d: 2 bars" in imported.stdout

    broken = tmp_path / "broken.csv"
    broken.write_text("date,open,high,low,close\n2024-01-02,10,9,9.5,10.5\n")
    proc = ktrdr(backend, "data", "import", str(broken), "--symbol", "MINE", "--timeframe", "1d")
    assert_clean_error(proc, 2, "line 2")
    again = json.loads(ktrdr(backend, "data", "list", "--json").stdout)
    assert [s["bars"] for s in again if s["symbol"] == "MINE"] == [2]  # the good import stands
    assert_clean_error(ktrdr(backend, "data", "show", "NOPE"), 1, "NOPE")


def test_agent_trigger_is_fire_and_forget_and_status_reports(backend: LiveBackend) -> None:
    proc = ktrdr(
        backend, "agent", "trigger", "--folds", "0", "--seed", "1", "--epochs", "300", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    op_id = json.loads(proc.stdout)["operation_id"]
    plain = ktrdr(backend, "agent", "trigger", "--folds", "0", "--seed", "2")
    assert plain.returncode == 1  # a cycle is already running: 409, said clearly
    assert "already running" in plain.stderr and op_id in plain.stderr
    assert "ktrdr agent status -f" in plain.stderr and f"ktrdr ops cancel {op_id}" in plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1

    followed = ktrdr(backend, "agent", "status", "--follow", "--plain")
    assert followed.returncode == 0, followed.stderr
    assert "Research cycle complete!" in followed.stdout
    status = json.loads(ktrdr(backend, "agent", "status", "--json").stdout)
    assert status["active"] is False
    assert status["cycle"]["operation_id"] == op_id
    assert status["cycle"]["status"] == "completed"
    human = ktrdr(backend, "agent", "status")
    assert "Verdict:" in human.stdout and op_id in human.stdout

    results = json.loads(ktrdr(backend, "agent", "results", "--json").stdout)
    assert [r["operation_id"] for r in results] == [op_id]
    assert results[0]["verdict"] == status["cycle"]["result_summary"]["verdict"]
    table = ktrdr(backend, "agent", "results")
    assert op_id in table.stdout and "(B&H " in table.stdout  # 80 columns: lines, not a table
    assert_clean_error(ktrdr(backend, "agent", "results", "--sort", "bogus"), 2, "unknown sort")


def test_a_cycles_strategy_exports_to_yaml_that_trains_again(
    backend: LiveBackend, tmp_path: Path
) -> None:
    cycle = json.loads(
        ktrdr(backend, "agent", "trigger", "--folds", "0", "-f", "--seed", "6", "--json").stdout
    )
    designed = cycle["result_summary"]["strategy"]
    printed = ktrdr(backend, "agent", "strategy", cycle["operation_id"])
    assert printed.returncode == 0, printed.stderr
    assert f"name: {designed['name']}" in printed.stdout

    target = tmp_path / "mine.yaml"
    wrote = ktrdr(backend, "agent", "strategy", cycle["operation_id"], "-o", str(target))
    assert wrote.returncode == 0, wrote.stderr
    assert f"ktrdr model train {target}" in wrote.stdout
    from ktrdr.strategies.loader import load_strategy

    assert load_strategy(str(target)).model_dump(mode="json") == designed  # a faithful copy
    retrained = ktrdr(backend, "model", "train", str(target), "--epochs", "3", "--json")
    assert retrained.returncode == 0, retrained.stderr
    assert json.loads(retrained.stdout)["result_summary"]["strategy_name"] == designed["name"]

    assert_clean_error(ktrdr(backend, "agent", "strategy", "op_nope"), 1, "not found")
    training_id = cycle["metadata"]["parameters"]["training_op_id"]
    assert_clean_error(ktrdr(backend, "agent", "strategy", training_id), 1, "not a research")
    bad = ktrdr(backend, "agent", "strategy", cycle["operation_id"], "-o", str(tmp_path / "x.txt"))
    assert_clean_error(bad, 2, ".yaml or .yml")
