"""`ktrdr agent compare`: the real command against a real backend holding two real completed
research cycles (run by it), a walk-forward cycle's result written into its database the
way the worker writes it, and a cycle still running; the table, --json, the pictures and
every refusal."""

from __future__ import annotations

import json
import re
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ktrdr.cli.views.tables import excess_text
from ktrdr.contract.results import Headline
from ktrdr.records.models import OperationType
from tests.cli.test_results_statistics import walk_forward
from tests.support.live_backend import LiveBackend, run_ktrdr

SVG = "{http://www.w3.org/2000/svg}"
UNKNOWN = "op_agent_research_20250101_120000_1a2b3c4d"


@dataclass
class Seeded:
    backend: LiveBackend
    http: httpx.Client
    real: list[str]  # two completed cycles the backend ran
    walk_forward: str  # a walk-forward cycle's result, written offline
    training: str  # a child of the first real cycle: not a cycle
    cycles: dict[str, dict[str, Any]]  # id -> the API's operation

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_ktrdr(self.backend.env, "agent", "compare", *args)


def _wait(http: httpx.Client, op_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        op: dict[str, Any] = http.get(f"/operations/{op_id}").json()["data"]
        if op["status"] in ("completed", "failed", "cancelled"):
            return op
        time.sleep(0.05)
    raise AssertionError(f"{op_id} did not end")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    backend = LiveBackend(tmp_path_factory.mktemp("compare-backend"))
    with backend.offline_service() as service:
        cycle = service.create(OperationType.AGENT_RESEARCH, parameters={"phase": "assessing"})
        service.start(cycle.operation_id)
        summary = walk_forward(0.97, 12, 0.21, (0.041, -0.012, 0.09))
        service.complete(cycle.operation_id, summary, parameters={"phase": "completed"})
        wf = cycle.operation_id
    backend.start()
    try:
        with httpx.Client(base_url=f"{backend.url}/api/v1", timeout=30) as http:
            real = []
            for seed in (3, 4):
                reply = http.post("/agent/trigger", json={"folds": 0, "seed": seed, "epochs": 15})
                assert reply.status_code == 202, reply.text
                op = _wait(http, reply.json()["data"]["operation_id"])
                assert op["status"] == "completed", op["error_message"]
                real.append(op["operation_id"])
            ops = {i: http.get(f"/operations/{i}").json()["data"] for i in [*real, wf]}
            training = ops[real[0]]["metadata"]["parameters"]["training_op_id"]
            yield Seeded(backend, http, real, wf, training, ops)
    finally:
        backend.kill()


def _columns(stdout: str, label: str) -> list[str]:
    """The cells of the table row named ``label``."""
    line = next(line for line in stdout.splitlines() if line.startswith(label))
    return [cell.strip() for cell in line.split("│")[1:]]


def test_the_table_has_a_column_per_cycle_with_the_apis_figures_and_the_best_marked(
    seeded: Seeded,
) -> None:
    ids = [*seeded.real, seeded.walk_forward]
    proc = seeded.run(*ids, "--no-chart")
    assert proc.returncode == 0, proc.stderr
    sharpes = [seeded.cycles[i]["result_summary"]["sharpe_ratio"] for i in ids]
    cells = _columns(proc.stdout, "Sharpe ")
    assert [c.rstrip(" ★") for c in cells] == [f"{s:+.2f}" for s in sharpes]
    best = max(range(3), key=lambda i: sharpes[i])
    assert [i for i, c in enumerate(cells) if c.endswith("★")] == [best]
    # Lower is better for the drawdown: the mark goes to the smallest.
    drawdowns = [seeded.cycles[i]["result_summary"]["max_drawdown"] for i in ids]
    marked = [i for i, c in enumerate(_columns(proc.stdout, "Max drawdown")) if "★" in c]
    assert marked == [min(range(3), key=lambda i: drawdowns[i])]
    # Each header names the strategy and the short id, numbered as in the chart.
    for number, op_id in enumerate(ids, 1):
        assert f"{number} {op_id.rsplit('_', 1)[-1]}" in proc.stdout
    # Buy-and-hold and the statistics that count every try (the walk-forward cycle's).
    assert _columns(proc.stdout, "B&H Sharpe")[2] == "+0.54"
    assert _columns(proc.stdout, "Deflated Sharpe") == ["-", "-", "0.97"]
    interval = Headline(excess_return=0.041, excess_low=-0.012, excess_high=0.09)
    assert _columns(proc.stdout, "Holdout excess")[2] == excess_text(interval)  # as `results`
    assert "it recorded no backtest to draw" in proc.stdout  # the walk-forward one, seeded
    assert "is walk-forward: its figures are the chosen candidate's on the holdout" in proc.stdout
    assert f"/compare?ids={','.join(ids)}" in proc.stdout


def test_json_round_trips_the_figures_in_the_order_given(seeded: Seeded) -> None:
    ids = [seeded.walk_forward, *seeded.real]
    proc = seeded.run(*ids, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["operation_id"] for r in rows] == ids
    for row in rows:
        result = seeded.cycles[row["operation_id"]]["result_summary"]
        for key in ("sharpe_ratio", "total_return", "max_drawdown", "verdict", "trades"):
            assert row[key] == result.get(key), key
        assert row["benchmark_sharpe_ratio"] == result["benchmark"]["sharpe_ratio"]
    assert rows[0]["walk_forward"] and (rows[0]["deflated_sharpe"], rows[0]["pbo"]) == (0.97, 0.21)
    assert not rows[1]["walk_forward"] and rows[1]["deflated_sharpe"] is None
    best_sharpe = max(rows, key=lambda r: r["sharpe_ratio"])
    assert [r["operation_id"] for r in rows if "sharpe_ratio" in r["best"]] == [
        best_sharpe["operation_id"]
    ]


def test_svg_and_png_draw_one_curve_per_cycle_plus_buy_and_hold(
    seeded: Seeded, tmp_path: Path
) -> None:
    svg, png = tmp_path / "cmp.svg", tmp_path / "cmp.png"
    proc = seeded.run(*seeded.real, "--svg", str(svg), "--png", str(png), "--plain")
    assert proc.returncode == 0, proc.stderr
    assert f"Wrote {svg}" in proc.stdout and f"Wrote {png}" in proc.stdout
    root = ET.fromstring(svg.read_text())
    lines = root.iter(f"{SVG}polyline")
    classes = [(line.get("class"), line.get("data-key")) for line in lines]
    assert [k for c, k in classes if c == "equity"] == ["1", "2"]
    assert [c for c, _ in classes].count("hold") == 1  # same market and bars: one line
    assert [k for c, k in classes if c == "training"] == ["1", "2"]
    epochs = [seeded.cycles[i]["result_summary"]["training"]["epochs"] for i in seeded.real]
    for line in root.iter(f"{SVG}polyline"):
        points = len(line.get("points", "").split())
        if line.get("class") == "training":  # a point per epoch
            assert points == epochs[int(line.get("data-key", "")) - 1]
        else:
            assert points > 200  # the equity's series, thinned to at most 1,000 points
    with Image.open(png) as image:
        assert image.size == (1200, 800)
    # Without colour the terminal chart draws each cycle with its number.
    chart = proc.stdout[proc.stdout.index("equity, each starting at 1.0") :]
    assert "1" in chart and "2" in chart and "·" in chart and "\x1b[" not in chart


def test_a_running_cycle_shows_dashes_and_a_note(seeded: Seeded) -> None:
    body = {"folds": 0, "seed": 9, "epochs": 100_000, "patience": 0}
    reply = seeded.http.post("/agent/trigger", json=body)
    assert reply.status_code == 202, reply.text
    running = reply.json()["data"]["operation_id"]
    try:
        proc = seeded.run(seeded.real[0], running, "--no-chart")
        assert proc.returncode == 0, proc.stderr
        assert _columns(proc.stdout, "Sharpe ")[1] == "-"
        assert _columns(proc.stdout, "Verdict")[1].startswith("running")
        assert "is still running" in proc.stdout and "its figures show once it completes" in (
            proc.stdout.replace("\n", " ")
        )
        as_json = json.loads(seeded.run(seeded.real[0], running, "--json").stdout)
        assert as_json[1]["status"] == "running" and as_json[1]["sharpe_ratio"] is None
    finally:  # the cancel is acknowledged while the next tests run; the backend goes after
        seeded.http.delete(f"/operations/{running}")


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["bogus", "op_x"], 2, "not an operation id"),
        (["op_agent_research_1"], 2, "compare 2 to 5 research cycles, not 1"),
        ([f"op_agent_research_{n}" for n in range(6)], 2, "compare 2 to 5 research cycles, not 6"),
        (["op_agent_research_1", "op_agent_research_1"], 2, "named twice"),
        (["TRAINING", "REAL"], 2, "is a training operation, not a research cycle"),
        ([UNKNOWN, "REAL"], 1, "not found"),
    ],
    ids=["malformed", "one", "six", "duplicate", "not-a-cycle", "unknown"],
)
def test_bad_input_is_one_line_and_the_right_exit_code(
    seeded: Seeded, args: list[str], code: int, needle: str
) -> None:
    named = {"TRAINING": seeded.training, "REAL": seeded.real[0]}
    proc = seeded.run(*(named.get(a, a) for a in args))
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and proc.stdout == ""
    if needle != "not an operation id":  # click's own usage box words that one
        assert re.fullmatch(r"Error: [^\n]+\n", proc.stderr), proc.stderr


def test_an_unwritable_picture_is_one_line(seeded: Seeded, tmp_path: Path) -> None:
    proc = seeded.run(*seeded.real, "--svg", str(tmp_path / "missing" / "x.svg"))
    assert proc.returncode == 1 and "cannot write the picture" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
