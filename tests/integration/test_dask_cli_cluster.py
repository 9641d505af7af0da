"""A real backend on a cluster started with the real Dask CLI (``dask scheduler`` and two
``dask worker`` processes on loopback): trainings run two at a time and one is cancelled;
a worker killed with SIGKILL fails the training it ran, naming it; a killed scheduler
fails the running training clearly while the backend keeps serving (new jobs: 503
``cluster_unavailable``), and once the scheduler is back a new training completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

from tests.support import live_backend  # noqa: E402
from tests.support.live_backend import (  # noqa: E402
    LiveBackend,
    env_without_ktrdr,
    free_port,
    run_ktrdr,
)
from tests.support.waiting import wait_until

TERMINAL = {"completed", "failed", "cancelled"}
DASK = str(Path(sys.executable).parent / "dask")


class DaskCli:
    """``dask scheduler`` and ``dask worker`` subprocesses on loopback, logs in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                [DASK, *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")},
            )

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
            "--no-dashboard", "--preload", "ktrdr.executors.dask.preload",
        )  # fmt: skip

    def start_worker(self) -> str:
        """A worker without a nanny (so SIGKILL ends it for good); returns its address."""
        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        self.workers[address] = self._spawn(
            f"worker-{port}", "worker", self.address, "--nthreads", "1", "--no-nanny",
            "--host", "127.0.0.1", "--worker-port", str(port), "--no-dashboard",
            "--preload", "ktrdr.executors.dask.preload",
        )  # fmt: skip
        return address

    def kill(self, proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in [*self.workers.values(), self.scheduler]:
            self.kill(proc)


@pytest.fixture(scope="module")
def dask_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCli]:
    """One scheduler and two workers for the module (the faults test, last, breaks them):
    the workers boot while the backend starts."""
    cli = DaskCli(tmp_path_factory.mktemp("dask-cli"))
    cli.start_scheduler()
    cli.start_worker()
    cli.start_worker()
    yield cli
    cli.stop_all()


@pytest.fixture(scope="module")
def dask_backend(
    tmp_path_factory: pytest.TempPathFactory, dask_cli: DaskCli
) -> Iterator[LiveBackend]:
    backend = LiveBackend(tmp_path_factory.mktemp("dask-backend"))
    backend.env["KTRDR_EXECUTOR"] = "dask"
    backend.env["KTRDR_DASK_SCHEDULER"] = dask_cli.address
    # Importing Dask makes the backend's start slower than the default allowance on a
    # busy machine.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live_backend, "STARTUP_SECONDS", 60.0)
        backend.start()
    yield backend
    backend.kill()


def api(backend: LiveBackend) -> httpx.Client:
    return httpx.Client(base_url=f"{backend.url}/api/v1", timeout=20)


def health(http: httpx.Client) -> dict[str, Any]:
    reply = http.get("/health")
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


def train(http: httpx.Client, epochs: int) -> str:
    reply = http.post("/training/start", json={"strategy": "rsi_mean_reversion", "epochs": epochs})
    assert reply.status_code == 202, reply.text
    return str(reply.json()["data"]["operation_id"])


def op(http: httpx.Client, op_id: str) -> dict[str, Any]:
    data: dict[str, Any] = http.get(f"/operations/{op_id}").json()["data"]
    return data


def running_epochs(http: httpx.Client, op_id: str, at_least: int) -> Callable[[], bool]:
    def check() -> bool:
        now = op(http, op_id)
        assert now["status"] not in TERMINAL, now
        return now["status"] == "running" and (now["progress"]["items_processed"] or 0) >= at_least

    return check


def test_four_trainings_run_two_at_a_time_and_one_is_cancelled(
    dask_cli: DaskCli, dask_backend: LiveBackend
) -> None:
    with api(dask_backend) as http:
        assert wait_until(lambda: health(http)["workers"] == 2, 60, 0.05), "two workers"
        state = health(http)
        assert state["executor_name"] == "dask"
        assert state["scheduler"] == dask_cli.address
        assert state["cluster_status"] == "connected"
        assert state["free_slots"] == 2
        ops = [train(http, epochs) for epochs in (3000, 20, 20, 20)]
        most_running = 0
        cancelled_at: float | None = None
        while True:
            # One listing is one consistent snapshot (four GETs in a row are not).
            running = http.get("/operations", params={"status": "running"}).json()["total"]
            most_running = max(most_running, running)
            statuses = [op(http, op_id) for op_id in ops]
            last = statuses[0]
            if cancelled_at is None and last["status"] == "running":
                if (last["progress"]["items_processed"] or 0) >= 2:
                    assert http.delete(f"/operations/{ops[0]}").status_code == 200
                    cancelled_at = time.monotonic()
            if all(o["status"] in TERMINAL for o in statuses):
                break
            time.sleep(0.02)
        assert [o["status"] for o in statuses] == ["cancelled"] + ["completed"] * 3, [
            (o["status"], o["error_message"]) for o in statuses
        ]
        assert most_running == 2  # two slots: never more at once, and both were used
        for done in statuses[1:]:
            assert done["progress"]["percentage"] == 100.0
            model = Path(done["result_summary"]["model_path"])
            assert model.is_relative_to(dask_backend.data_dir / "models")
            assert (model / "model.joblib").is_file()
        assert statuses[0]["result_summary"]["stopped_at"].startswith("Epoch ")
        assert wait_until(lambda: health(http)["free_slots"] == 2, 10, 0.05), "slots still busy"
    status = run_ktrdr(env_without_ktrdr(KTRDR_API_URL=dask_backend.url), "server", "status")
    assert status.returncode == 0, status.stderr
    assert f"executor dask at {dask_cli.address} (connected, 2 worker(s), 2 free slot(s))" in (
        status.stdout
    ), status.stdout


def test_worker_and_scheduler_faults_fail_operations_clearly_and_the_backend_recovers(
    dask_cli: DaskCli, dask_backend: LiveBackend
) -> None:
    victim, survivor = list(dask_cli.workers)
    with api(dask_backend) as http:
        assert wait_until(lambda: health(http)["workers"] == 2, 60, 0.05), "two workers"
        first, second = train(http, 5000), train(http, 5000)
        assert wait_until(running_epochs(http, first, 1), 60, 0.05), "both training"
        assert wait_until(running_epochs(http, second, 1), 60, 0.05), "both training"

        # kill -9 of one worker: the training it ran fails naming it; the other goes on.
        dask_cli.kill(dask_cli.workers[victim])
        assert wait_until(
            lambda: op(http, first)["status"] in TERMINAL or op(http, second)["status"] in TERMINAL,
            20,
            0.05,
        ), "a failed training"
        ended = [o for o in (op(http, first), op(http, second)) if o["status"] in TERMINAL]
        assert len(ended) == 1 and ended[0]["status"] == "failed", ended
        assert victim in ended[0]["error_message"] and "died" in ended[0]["error_message"]
        other = first if ended[0]["operation_id"] == second else second
        assert op(http, other)["status"] == "running"
        assert wait_until(lambda: health(http)["workers"] == 1, 20, 0.05), "one worker left"

        # The scheduler killed: the running training fails clearly, the backend serves on.
        dask_cli.kill(dask_cli.scheduler)
        assert wait_until(lambda: op(http, other)["status"] in TERMINAL, 20, 0.05), "stuck"
        lost = op(http, other)
        assert lost["status"] == "failed"
        assert "scheduler" in lost["error_message"] and dask_cli.address in lost["error_message"]
        assert health(http)["cluster_status"] == "unavailable"
        before = http.get("/operations").json()["total"]
        refused = http.post("/training/start", json={"strategy": "rsi_mean_reversion"})
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert error["code"] == "cluster_unavailable"
        assert dask_cli.address in error["message"]
        listing = http.get("/operations", params={"status": "running"}).json()
        assert listing["data"] == [], listing
        assert http.get("/operations").json()["total"] == before  # refused: nothing made
        cycle = http.post("/agent/trigger", json={"folds": 0, "seed": 1})
        assert cycle.status_code == 503 and cycle.json()["error"]["code"] == "cluster_unavailable"

        # The scheduler back on the same port (workers restarted as a supervisor would):
        # the next job connects again and completes.
        dask_cli.kill(dask_cli.workers[survivor])
        dask_cli.start_scheduler()
        dask_cli.start_worker()
        started: list[str] = []

        def start_one() -> bool:
            reply = http.post("/training/start", json={"strategy": "rsi_mean_reversion"})
            if reply.status_code == 503:  # not back yet
                return False
            assert reply.status_code == 202, reply.text
            started.append(str(reply.json()["data"]["operation_id"]))
            return True

        assert wait_until(start_one, 30, 0.05), "the scheduler never came back"
        assert wait_until(lambda: op(http, started[0])["status"] in TERMINAL, 60, 0.05), "stuck"
        back = op(http, started[0])
        assert back["status"] == "completed", back["error_message"]
        assert health(http)["cluster_status"] == "connected"
