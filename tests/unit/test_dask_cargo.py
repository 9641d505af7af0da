"""What travels with a cluster job and what comes back (no cluster needed): the in-memory
market answers ``load`` exactly as the backend's MarketData, returned files land under the
backend's directories with the summary's paths rewritten, the progress reporter keeps to
its rate and always sends the last report, and the cluster settings are checked."""

from __future__ import annotations

import pickle
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

from ktrdr.contract.requests import TrainingStartRequest  # noqa: E402
from ktrdr.data.market import MarketData  # noqa: E402
from ktrdr.errors import (  # noqa: E402
    ConfigurationError,
    InvalidRequestError,
    JobFailedError,
    NotFoundError,  # noqa: E402
)
from ktrdr.executors.dask.cargo import MarketSnapshot, pack, store_outputs  # noqa: E402
from ktrdr.executors.dask.connection import local_workers, tls_security  # noqa: E402
from ktrdr.executors.dask.task import MAX_REPORTS_PER_SECOND, ThrottledReporter  # noqa: E402
from ktrdr.jobs.training import build_strategy  # noqa: E402
from ktrdr.operations.execution import Completed, Failed  # noqa: E402
from ktrdr.operations.progress import ProgressUpdate  # noqa: E402
from ktrdr.training.job import TrainingJob  # noqa: E402


def test_a_packed_training_carries_its_bars_and_loads_them_like_the_backend(
    tmp_path: Path,
) -> None:
    market = MarketData(tmp_path / "data")
    strategy = build_strategy(TrainingStartRequest(strategy="rsi_mean_reversion"))
    packed = pack(TrainingJob(strategy, market, tmp_path / "models"))
    assert packed.output_dirs == {"models_dir": tmp_path / "models"}
    shipped = pickle.loads(pickle.dumps(packed.job))
    assert isinstance(shipped.market, MarketSnapshot)
    for start, end in ((date(2001, 3, 1), date(2004, 6, 30)), (None, date(2013, 12, 31))):
        here = market.load("SP500", "1d", start, end)
        there = shipped.market.load("sp500", "1d", start, end)
        np.testing.assert_array_equal(here.timestamps, there.timestamps)
        np.testing.assert_array_equal(here.close, there.close)
    with pytest.raises(InvalidRequestError, match="no SP500 1d bars"):
        shipped.market.load("SP500", "1d", date(1990, 1, 1), date(1990, 2, 1))
    with pytest.raises(NotFoundError, match="was not sent with this job"):
        shipped.market.load("NASDAQ", "1d")


def test_returned_files_land_under_the_backend_dirs_and_the_summary_names_them(
    tmp_path: Path,
) -> None:
    models = tmp_path / "models"
    worker_dir = "/tmp/ktrdr-job-x/models_dir"
    summary: dict[str, Any] = {
        "model_path": f"{worker_dir}/rsi/20260101T000000.000000Z",
        "history": [{"note": f"{worker_dir}-not-a-child"}],
        "epochs": 3,
    }
    files = {"models_dir": {"rsi/20260101T000000.000000Z/meta.json": b"{}"}}
    outcome = store_outputs(
        Completed(summary), {"models_dir": models}, {"models_dir": worker_dir}, files
    )
    assert isinstance(outcome, Completed)
    stored = models / "rsi" / "20260101T000000.000000Z"
    assert outcome.summary["model_path"] == str(stored)
    assert outcome.summary["history"] == summary["history"]  # only real children move
    assert (stored / "meta.json").read_bytes() == b"{}"
    assert not list(stored.glob(".*"))  # no staging file left behind
    failed = Failed("boom")
    assert store_outputs(failed, {"models_dir": models}, {}, {}) is failed


@pytest.mark.parametrize("bad", ["../escape.json", "/etc/passwd", "a/../../b"])
def test_a_returned_file_outside_its_directory_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(JobFailedError, match="outside its output directory"):
        store_outputs(
            Completed({}),
            {"results_dir": tmp_path},
            {"results_dir": "/w"},
            {"results_dir": {bad: b""}},
        )


def test_the_reporter_keeps_to_its_rate_and_always_sends_the_last_report() -> None:
    sent: list[tuple[float, float]] = []
    lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        with lock:
            sent.append((time.monotonic(), message["percentage"]))

    reporter = ThrottledReporter("op_x", send)
    started = time.monotonic()
    for step in range(1, 301):  # 300 reports in about 0.3 s
        reporter.report(ProgressUpdate(step / 3, f"Epoch {step}/300"))
        time.sleep(0.001)
    elapsed = time.monotonic() - started
    reporter.close()
    assert sent[-1][1] == 100.0
    assert [p for _, p in sent] == sorted(p for _, p in sent)
    assert len(sent) <= elapsed * MAX_REPORTS_PER_SECOND + 2, (len(sent), elapsed)
    gaps = [b - a for (a, _), (b, _) in zip(sent, sent[1:], strict=False)][:-1]
    assert all(gap >= 0.9 / MAX_REPORTS_PER_SECOND for gap in gaps), gaps


def test_a_report_held_back_is_sent_without_waiting_for_the_next_one() -> None:
    sent: list[float] = []
    reporter = ThrottledReporter("op_x", lambda message: sent.append(message["percentage"]))
    reporter.report(ProgressUpdate(1.0))
    deadline = time.monotonic() + 2
    while not sent and time.monotonic() < deadline:
        time.sleep(0.001)
    reporter.report(ProgressUpdate(2.0))  # within the interval after the first: held back
    held_at = time.monotonic()
    while sent[-1:] != [2.0] and time.monotonic() < deadline:
        time.sleep(0.001)
    assert sent == [1.0, 2.0]
    assert time.monotonic() - held_at < 0.5  # sent when its turn came, not at close()
    reporter.close()
    assert sent == [1.0, 2.0]


def test_cluster_settings_are_checked() -> None:
    assert local_workers("local", 3) == 3
    assert local_workers("local:2", 3) == 2
    assert local_workers("tcp://10.0.0.5:8786", 3) is None
    for bad in ("local:0", "local:x", "10.0.0.5:8786"):
        with pytest.raises(ConfigurationError, match="KTRDR_DASK_SCHEDULER"):
            local_workers(bad, 2)
    assert tls_security(None, None, None) is None
    with pytest.raises(ConfigurationError, match="go together"):
        tls_security(Path("ca.pem"), None, None)
    security = tls_security(Path("ca.pem"), Path("cert.pem"), Path("key.pem"))
    assert security is not None and security.require_encryption
    assert security.get_tls_config_for_role("client") == {
        "ca_file": "ca.pem",
        "ciphers": None,
        "cert": "cert.pem",
        "key": "key.pem",
    }
