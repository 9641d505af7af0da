"""`ktrdr agent trigger --count N`: the real command against a real backend that allows
several cycles at once: N cycles with consecutive seeds, followed on one board to the end;
a count the backend does not allow starts nothing and leaves nothing running."""

from __future__ import annotations

import json
import subprocess

import httpx

from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend, run_ktrdr


def started_with_max(backend_factory: BackendFactory, max_active: int) -> LiveBackend:
    backend = backend_factory(start=False)
    backend.env["KTRDR_MAX_ACTIVE_CYCLES"] = str(max_active)
    return backend.start()


def ktrdr(backend: LiveBackend, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ktrdr(backend.env, *args, timeout=240)


def cycles(backend: LiveBackend) -> list[dict[str, object]]:
    reply = httpx.get(
        f"{backend.url}/api/v1/operations", params={"operation_type": "agent_research"}
    )
    return list(reply.json()["data"])


def test_two_cycles_with_consecutive_seeds_are_followed_to_the_end(
    backend_factory: BackendFactory,
) -> None:
    backend = started_with_max(backend_factory, 2)
    done = ktrdr(
        backend,
        "agent",
        "trigger",
        "--folds",
        "0",
        "--count",
        "2",
        "--seed",
        "7",
        "--epochs",
        "20",
        "-f",
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    ran = cycles(backend)
    assert len(ran) == 2 and all(c["status"] == "completed" for c in ran)
    for cycle in ran:
        assert str(cycle["operation_id"]) in done.stdout
    seeds = sorted(
        int(str(line.split("seed")[1]).split()[0])
        for line in done.stdout.splitlines()
        if line.startswith("  op_") and "seed" in line
    )
    assert seeds == [7, 8]
    assert "2 of 2 research cycles completed" in done.stdout
    assert f"ktrdr agent results (or {backend.url}/results)" in done.stdout
    # Off a terminal the board is plain lines: each cycle's verdict is printed once.
    assert sum("✓" in line for line in done.stdout.splitlines()) == 2


def test_more_cycles_than_the_backend_allows_start_none(
    backend_factory: BackendFactory,
) -> None:
    backend = started_with_max(backend_factory, 2)
    refused = ktrdr(
        backend, "agent", "trigger", "--folds", "0", "--count", "3", "--epochs", "5000", "--json"
    )
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert "Traceback" not in refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert "Could not start 3 research cycles" in lines[0]
    assert "KTRDR_MAX_ACTIVE_CYCLES=2" in lines[0] and "none was started" in lines[0]
    assert refused.stdout == ""
    assert cycles(backend) == []  # checked before starting: nothing to cancel

    started = ktrdr(
        backend, "agent", "trigger", "--folds", "0", "--count", "1", "--seed", "3", "--json"
    )
    assert started.returncode == 0, started.stderr
    [cycle] = json.loads(started.stdout)
    assert cycle["seed"] == 3 and cycle["operation_id"].startswith("op_agent_research")
    httpx.delete(f"{backend.url}/api/v1/operations/{cycle['operation_id']}")
