"""`ktrdr agent trigger --count N` over the backend's KTRDR_MAX_ACTIVE_CYCLES: the real command
against a real backend asks first how many cycles are open and how many may be, and starts
none (it used to start some, then cancel them)."""

from __future__ import annotations

import httpx

from tests.conftest import BackendFactory
from tests.support.live_backend import LiveBackend, run_ktrdr


def started_with_max(backend_factory: BackendFactory, max_active: int) -> LiveBackend:
    backend = backend_factory(start=False)
    backend.env["KTRDR_MAX_ACTIVE_CYCLES"] = str(max_active)
    return backend.start()


def cycles(backend: LiveBackend) -> list[dict[str, object]]:
    reply = httpx.get(
        f"{backend.url}/api/v1/operations", params={"operation_type": "agent_research"}
    )
    return list(reply.json()["data"])


def trigger(backend: LiveBackend, *args: str) -> tuple[int, str, str]:
    done = run_ktrdr(backend.env, "agent", "trigger", "--folds", "0", *args, timeout=120)
    assert "Traceback" not in done.stdout + done.stderr
    return done.returncode, done.stdout, done.stderr


def test_two_over_a_limit_of_one_start_none(backend_factory: BackendFactory) -> None:
    """Item 15: --count 2 with KTRDR_MAX_ACTIVE_CYCLES=1 starts no cycle at all."""
    backend = started_with_max(backend_factory, 1)
    code, out, err = trigger(backend, "--count", "2", "--json")
    assert code == 1 and out == ""
    [line] = err.strip().splitlines()
    assert "Could not start 2 research cycles" in line
    assert "KTRDR_MAX_ACTIVE_CYCLES=1" in line and "none was started" in line
    assert cycles(backend) == []  # not even a cancelled one


def test_the_cycles_already_open_count_against_the_limit(backend_factory: BackendFactory) -> None:
    """Item 15: with one cycle open and a limit of 2, --count 2 starts none; --count 1 runs."""
    backend = started_with_max(backend_factory, 2)
    code, out, err = trigger(backend, "--count", "1", "--epochs", "5000", "--json")
    assert code == 0, err
    [first] = cycles(backend)
    code, out, err = trigger(backend, "--count", "2", "--json")
    assert code == 1 and out == ""
    [line] = err.strip().splitlines()
    assert "1 research cycle is open" in line and "KTRDR_MAX_ACTIVE_CYCLES=2" in line
    assert [c["operation_id"] for c in cycles(backend)] == [first["operation_id"]]
    code, out, err = trigger(backend, "--count", "1", "--epochs", "5000", "--json")
    assert code == 0, err
    assert len(cycles(backend)) == 2
    for cycle in cycles(backend):
        httpx.delete(f"{backend.url}/api/v1/operations/{cycle['operation_id']}")
